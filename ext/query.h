// query.h: a definition as stored, and the SQL a run of it executes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.h"
#include "options.h"
#include "source.h"

namespace sqlexport {

// A definition row of _export_definitions.
struct Definition {
  int64_t rowid = 0;
  std::string id;
  std::string name;
  std::string source;
  nlohmann::json columns;   // null or array of names
  nlohmann::json criteria;  // null = every run gives criteria
  Format format = Format::csv;
  std::string options_text;  // stored JSON, every option filled in
  std::string created_at;
  std::string updated_at;
};

// Find a definition by id or by name. Returns nullopt when there is none (or no tables yet).
std::optional<Definition> find_definition(sqlite3 *db, const std::string &id_or_name);

// Everything needed to run a definition with some criteria, resolved against db's schema.
struct Plan {
  Source source;
  Options options;
  std::vector<std::string> columns;  // output columns, source spelling
  nlohmann::json criteria;           // the criteria in effect (fixed or given), null = none
  std::string sql;                   // SELECT ... FROM ... WHERE ... ORDER BY ...
  std::string count_sql;             // SELECT count(*) FROM ... WHERE ...
  // For a rowid table read in rowid order: the same SELECT restricted to one rowid range,
  // with two more parameters after params (low, high, inclusive); empty otherwise.
  std::string range_sql;
  nlohmann::json params = nlohmann::json::array();
};

// Check columns (JSON array of names, or null) against the source; returns the output columns.
std::vector<std::string> resolve_columns(const nlohmann::json &columns, const Source &src);

// Build the plan of a definition. run_criteria is what a run gives (null or {} = none); the
// rule of SPEC section 4 applies: fixed criteria forbid run criteria, no fixed criteria
// require them. When check_run_rule is false (export_sql, export_count), run criteria
// replace a missing fixed criteria and an empty one means every row.
Plan plan_run(sqlite3 *db, const Definition &def, const nlohmann::json &run_criteria, bool check_run_rule);

// Bind plan.params to stmt in order.
void bind_params(class Stmt &stmt, const nlohmann::json &params);

}  // namespace sqlexport
