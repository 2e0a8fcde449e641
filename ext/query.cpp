// query.cpp: load definitions and build the SQL a run executes.
//
// The generated statement is
//   SELECT "c1", "c2", ... FROM <source> [WHERE <criteria>] ORDER BY <order>
// where <order> is the order_by option, else a table's rowid (or a WITHOUT ROWID table's
// primary key), else every column of a view or SELECT source: output order is deterministic.
#include "query.h"

#include <fmt/format.h>

#include "criteria.h"
#include "db.h"
#include "errors.h"
#include "schema.h"
#include "util.h"

namespace sqlexport {

using nlohmann::json;

std::optional<Definition> find_definition(sqlite3 *db, const std::string &id_or_name) {
  if (!schema_exists(db)) return std::nullopt;
  Stmt s(db,
         "SELECT rowid, id, name, source, columns, criteria, format, options, created_at, updated_at "
         "FROM main._export_definitions WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1");
  s.bind(1, id_or_name);
  if (!s.step()) return std::nullopt;
  Definition d;
  d.rowid = s.int64(0);
  d.id = s.text(1);
  d.name = s.text(2);
  d.source = s.text(3);
  d.columns = s.is_null(4) ? json() : parse_json_text(s.text(4), "columns");
  d.criteria = s.is_null(5) ? json() : parse_json_text(s.text(5), "criteria");
  d.format = parse_format(s.text(6));
  d.options_text = s.text(7);
  d.created_at = s.text(8);
  d.updated_at = s.text(9);
  return d;
}

std::vector<std::string> resolve_columns(const json &columns, const Source &src) {
  if (columns.is_null()) return src.columns;
  if (!columns.is_array() || columns.empty())
    throw ExportError(Code::invalid_request,
                      fmt::format("columns must be a non-empty JSON array of column names, or NULL for every column; "
                                  "got {}",
                                  columns.dump()));
  std::vector<std::string> out;
  for (const auto &c : columns) {
    if (!c.is_string())
      throw ExportError(Code::invalid_request, fmt::format("columns must hold column names (strings), not {}", c.dump()));
    int i = find_column(src.columns, c.get<std::string>());
    if (i < 0)
      throw ExportError(Code::invalid_request,
                        fmt::format("column '{}' is not in source '{}'; columns are {}", c.get<std::string>(),
                                    src.kind == Source::Kind::select ? std::string("(statement)") : src.name,
                                    join_names(src.columns)));
    const std::string &name = src.columns[static_cast<size_t>(i)];
    if (find_column(out, name) >= 0)
      throw ExportError(Code::invalid_request, fmt::format("column '{}' is listed twice in columns", name));
    out.push_back(name);
  }
  return out;
}

Plan plan_run(sqlite3 *db, const Definition &def, const json &run_criteria, bool check_run_rule) {
  Plan p;
  p.source = resolve_source(db, def.source);
  p.options = parse_options(def.options_text, def.format, def.name, p.source.columns);
  p.columns = resolve_columns(def.columns, p.source);
  bool fixed = !def.criteria.is_null();
  bool given = criteria_given(run_criteria);
  if (check_run_rule) {
    if (fixed && given)
      throw ExportError(Code::invalid_request,
                        fmt::format("export '{}' fixes its criteria; a run must not give any (pass NULL or {{}})", def.name));
    if (!fixed && run_criteria.is_null())
      throw ExportError(Code::invalid_request,
                        fmt::format("export '{}' has no fixed criteria; a run must give criteria ('[]' exports every row)",
                                    def.name));
  }
  p.criteria = fixed ? def.criteria : run_criteria;
  CompiledCriteria cc = compile_criteria(p.criteria, p.source.columns, p.options.date_column);
  p.params = cc.params;

  std::string cols;
  for (const auto &c : p.columns) {
    if (!cols.empty()) cols += ", ";
    cols += quote_ident(c);
  }
  std::string where = cc.where.empty() ? "" : " WHERE " + cc.where;
  std::string order;
  if (!p.options.order_by.empty()) {
    for (const auto &k : p.options.order_by) {
      if (!order.empty()) order += ", ";
      order += quote_ident(k.column) + (k.desc ? " DESC" : "");
    }
  } else if (p.source.kind == Source::Kind::table && p.source.has_rowid) {
    order = "rowid";
  } else {
    const auto &keys = p.source.primary_key.empty() ? p.source.columns : p.source.primary_key;
    for (const auto &c : keys) {
      if (!order.empty()) order += ", ";
      order += quote_ident(c);
    }
  }
  p.sql = fmt::format("SELECT {} FROM {}{} ORDER BY {}", cols, p.source.from_sql, where, order);
  p.count_sql = fmt::format("SELECT count(*) FROM {}{}", p.source.from_sql, where);
  if (p.options.order_by.empty() && p.source.kind == Source::Kind::table && p.source.has_rowid)
    p.range_sql = fmt::format("SELECT {} FROM {} WHERE {}rowid BETWEEN ? AND ? ORDER BY rowid", cols, p.source.from_sql,
                              cc.where.empty() ? std::string() : "(" + cc.where + ") AND ");
  return p;
}

void bind_params(Stmt &stmt, const json &params) {
  int i = 1;
  for (const auto &v : params) stmt.bind_json(i++, v);
}

}  // namespace sqlexport
