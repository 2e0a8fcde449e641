// criteria.h: compile criteria JSON (SPEC section 5) into a parameterized SQL condition.
//
// Three shapes are accepted anywhere criteria are:
//   [cond, cond, ...]                       all must hold; "AND"/"OR" strings may sit between
//                                           items, items may be lists (AND binds tighter than OR)
//   {"logical": "AND"|"OR", "items": [...]} groups nested to any depth; empty items = every row
//   {"date_from_utc": ..., "date_to_utc": ...}  a range on the definition's date_column
// where cond is {"attribute": column, "operator": OPERATOR, "value": v}.
// Values are never put into the SQL text: every value is a `?` parameter, bound in order.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sqlexport {

struct CompiledCriteria {
  // A boolean SQL expression over double-quoted column names with one plain `?` per
  // parameter; empty when the criteria match every row.
  std::string where;
  // The values to bind to the `?`s of `where`, in order, as JSON scalars (bound with
  // Stmt::bind_json: string, integer, real, boolean as 1/0, null).
  nlohmann::json params = nlohmann::json::array();
};

// Compile criteria against the source's columns. `criteria` null or {} matches every row.
// date_column is the definition's date_column option ("" = none).
// Throws ExportError(Code::invalid_request, message); the message names the path of the bad
// item (e.g. "criteria[2].items[0]") and what would be accepted; the caller adds the
// "<function>: invalid_request: " prefix.
CompiledCriteria compile_criteria(const nlohmann::json &criteria, const std::vector<std::string> &columns,
                                  const std::string &date_column);

// True when criteria were given: not null and not the empty object {}.
bool criteria_given(const nlohmann::json &criteria) noexcept;

}  // namespace sqlexport
