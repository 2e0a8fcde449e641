// query.h: a definition as stored, and the SQL a run of it executes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.h"
#include "errors.h"
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
  std::string count_sql;             // SELECT count(*) FROM ... WHERE ... (binds a prefix of params)
  // For a rowid table read in rowid order: the same SELECT restricted to one rowid range,
  // with two more parameters after params (low, high, inclusive); empty otherwise.
  std::string range_sql;
  nlohmann::json params = nlohmann::json::array();
  // Option "incremental": the bounds this plan exports, watermark_from < column <=
  // watermark_to (from is null on a first or full run; to is null when the column holds no
  // value). Both stay null without the option.
  bool incremental = false;
  nlohmann::json watermark_from;
  nlohmann::json watermark_to;
};

// The SQL expression of option "incremental"'s column for src (a quoted column, or the rowid
// of a table); throws invalid_request when it names the rowid of a source that has none.
std::string incremental_expr(const Options &options, const Source &src);

// Check columns (JSON array of names, or null) against the source; returns the output columns.
std::vector<std::string> resolve_columns(const nlohmann::json &columns, const Source &src);

// A pivot makes its own output columns: columns must then be null. Throws invalid_request.
void check_pivot_columns(const nlohmann::json &columns, const Options &options);

// Build the plan of a definition. run_criteria is what a run gives (null or {} = none); the
// rule of SPEC section 4 applies: fixed criteria forbid run criteria, no fixed criteria
// require them. When check_run_rule is false (export_sql, export_count), run criteria
// replace a missing fixed criteria and an empty one means every row.
//
// A pivot with a "column" needs the distinct values of that column: with read_pivot_values
// they are read on db (in the worker: inside the run's snapshot) and the plan is the grouped
// query. Without (export_run, which must return at once), the plan's sql and params are those
// of the query that reads the values, which is what a run executes first, and columns holds
// only the fields.
//
// With option "incremental" and read_pivot_values, the plan reads on db the watermark_to of the
// definition's latest COMPLETE, DOWNLOADED or EXPIRED run and the column's greatest value (a
// scan when the column has no index), and exports the rows in between (full: every row, NULLs
// included; the greatest value is still its watermark_to). Without read_pivot_values (export_run,
// which must return at once, and the scheduler, which holds the write lock) it reads neither and
// the plan has no bounds: the worker plans the run again in its snapshot.
Plan plan_run(sqlite3 *db, const Definition &def, const nlohmann::json &run_criteria, bool check_run_rule,
              bool read_pivot_values = true, bool full = false);

// Bind plan.params to stmt in order, as many as stmt has parameters (count_sql of a pivot uses
// only the criteria's, which come first).
void bind_params(class Stmt &stmt, const nlohmann::json &params);

// True when SQLite's result code rc, met while preparing or stepping a statement that reads a
// run's source, means that the source's own SQL or data failed (SQLITE_ERROR, TOOBIG,
// CONSTRAINT, MISMATCH: an overflowing sum() or abs(), malformed JSON, a function the worker's
// connection lacks, a value over SQLite's limits). Interruptions, I/O, memory and lock errors
// are not the source's: they keep their own codes.
bool is_source_error(int rc) noexcept;

// Run f, which prepares or steps a statement that reads the run's source (plan.sql,
// range_sql, count_sql, or plan_run reading a pivot's values), and return its result. An
// SqliteError for which is_source_error holds is thrown as invalid_request
// "the source failed <where()>: <SQLite's message>" (where() says which row, e.g. "at row 3"),
// so that it does not read as a bug of the extension; any other error passes unchanged.
template <class F, class Where>
auto read_source(F &&f, Where &&where) -> decltype(f()) {
  try {
    return f();
  } catch (const SqliteError &e) {
    if (!is_source_error(e.rc())) throw;
    throw ExportError(Code::invalid_request, "the source failed " + where() + ": " + e.what());
  }
}

}  // namespace sqlexport
