// query.cpp: load definitions and build the SQL a run executes.
//
// The generated statement is
//   SELECT "c1", "c2", ... FROM <source> [WHERE <criteria>] ORDER BY <order>
// where <order> is the order_by option, else a table's rowid (or a WITHOUT ROWID table's
// primary key), else every column of a view or SELECT source: output order is deterministic.
#include "query.h"

#include <map>

#include <fmt/format.h>

#include "criteria.h"
#include "db.h"
#include "errors.h"
#include "schema.h"
#include "util.h"
#include "writer.h"

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

void check_pivot_columns(const json &columns, const Options &options) {
  if (options.pivot && !columns.is_null())
    throw ExportError(Code::invalid_request,
                      "columns must be NULL when option 'pivot' is set: the pivot's fields and summaries are its output "
                      "columns");
}

namespace {

constexpr const char *kPivotRows = "\"_export_pivot_rows\"";

// The SQL of one summary over a group. With value_param > 0, only over the rows whose pivot
// column IS ?value_param (NULL-safe equality; the value is bound, never in the text).
std::string summary_sql(const PivotSummary &s, const std::string &pivot_column, int value_param) {
  std::string arg = s.column.empty() ? (value_param > 0 ? "1" : "*") : quote_ident(s.column);
  if (value_param > 0) arg = fmt::format("CASE WHEN {} IS ?{} THEN {} END", quote_ident(pivot_column), value_param, arg);
  if (s.aggregator == "cnt") return "count(" + arg + ")";
  if (s.aggregator == "cnt_distinct") return "count(DISTINCT " + arg + ")";
  return s.aggregator + "(" + arg + ")";  // sum, avg, min, max: checked by parse_options
}

// The text a value of the pivot column gives its output columns: NULL, the integer, the REAL
// as the writer prints it, the text. Its bound value goes to value.
std::string value_name(sqlite3_stmt *st, int col, json &value) {
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: value = nullptr; return "NULL";
    case SQLITE_INTEGER: {
      int64_t i = sqlite3_column_int64(st, col);
      value = i;
      return std::to_string(i);
    }
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(st, col);
      value = d;
      char buf[kRealTextMax];
      return std::string(buf, format_real(d, buf));  // the text the writer writes
    }
    default: {
      const unsigned char *t = sqlite3_column_text(st, col);
      std::string text(t ? reinterpret_cast<const char *>(t) : "", static_cast<size_t>(sqlite3_column_bytes(st, col)));
      value = text;
      return text;
    }
  }
}

std::string describe_value(const json &v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return "'" + v.get<std::string>() + "'";
  return v.dump();
}

// Fill p.sql, p.count_sql, p.params and p.columns for a pivot.
void plan_pivot(sqlite3 *db, Plan &p, const CompiledCriteria &cc, bool read_values) {
  const Pivot &pv = *p.options.pivot;
  const std::string &from = p.source.from_sql;
  std::string where = cc.where.empty() ? "" : " WHERE " + cc.where;
  std::string group;
  for (const auto &f : pv.fields) group += (group.empty() ? "" : ", ") + quote_ident(f);
  // Order: pivot.sort, then every field (a group is one combination of fields, so the order
  // is total). A summary sorts by its value over the whole group.
  std::string order;
  if (!pv.sort.empty())
    order = (pv.sort_summary >= 0 ? summary_sql(pv.summaries[static_cast<size_t>(pv.sort_summary)], "", 0)
                                  : quote_ident(pv.sort)) +
            (pv.sort_desc ? " DESC" : "");
  for (const auto &f : pv.fields)
    if (pv.sort_summary >= 0 || f != pv.sort) order += (order.empty() ? "" : ", ") + quote_ident(f);
  std::string tail = group.empty() ? "" : " GROUP BY " + group + " ORDER BY " + order;
  p.count_sql = group.empty() ? fmt::format("SELECT count(*) FROM (SELECT count(*) FROM {}{})", from, where)
                              : fmt::format("SELECT count(*) FROM (SELECT 1 FROM {}{} GROUP BY {})", from, where, group);
  p.params = cc.params;
  p.columns = pv.fields;
  std::string cols;
  for (const auto &f : pv.fields) cols += (cols.empty() ? "" : ", ") + quote_ident(f);
  if (pv.column.empty()) {
    for (const auto &s : pv.summaries) {
      cols += (cols.empty() ? "" : ", ") + summary_sql(s, "", 0) + " AS " + quote_ident(s.name);
      p.columns.push_back(s.name);
    }
    p.sql = fmt::format("SELECT {} FROM {}{}{}", cols, from, where, tail);
    return;
  }
  // A column pivot: first the distinct values of the column (sorted as ORDER BY sorts them:
  // NULL, numbers, text, by the column's collation), at most pivot_max_columns of them.
  const std::string qc = quote_ident(pv.column);
  std::string values_sql = fmt::format("SELECT DISTINCT {} FROM {}{} ORDER BY 1 LIMIT ?", qc, from, where);
  if (!read_values) {
    p.sql = values_sql;
    p.params.push_back(p.options.pivot_max_columns + 1);
    return;
  }
  std::vector<json> values;
  std::vector<std::string> names;
  {
    Stmt st(db, values_sql);
    bind_params(st, p.params);
    st.bind(static_cast<int>(p.params.size()) + 1, p.options.pivot_max_columns + 1);
    while (st.step()) {
      if (sqlite3_column_type(st.get(), 0) == SQLITE_BLOB)
        throw ExportError(Code::not_admissible,
                          fmt::format("pivot column '{}' holds a BLOB value; pivot values must be text, numbers or NULL",
                                      pv.column));
      json v;
      names.push_back(value_name(st.get(), 0, v));
      values.push_back(std::move(v));
    }
  }
  if (static_cast<int64_t>(values.size()) > p.options.pivot_max_columns) {
    Stmt n(db, fmt::format("SELECT count(*) FROM (SELECT DISTINCT {} FROM {}{})", qc, from, where));
    bind_params(n, p.params);
    n.step();
    throw ExportError(Code::not_admissible,
                      fmt::format("pivot column '{}' has {} distinct values; the limit is {} (option 'pivot_max_columns')",
                                  pv.column, n.int64(0), p.options.pivot_max_columns));
  }
  size_t total = pv.fields.size() + values.size() * pv.summaries.size();
  int limit = sqlite3_limit(db, SQLITE_LIMIT_COLUMN, -1);
  if (total > static_cast<size_t>(limit))
    throw ExportError(Code::not_admissible,
                      fmt::format("the pivot would have {} output columns ({} values of '{}' times {} summaries, plus "
                                  "fields); SQLite allows {}",
                                  total, values.size(), pv.column, pv.summaries.size(), limit));
  if (p.params.size() + values.size() > static_cast<size_t>(sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1)))
    throw ExportError(Code::not_admissible,
                      fmt::format("the pivot needs {} bound values; SQLite allows {}", p.params.size() + values.size(),
                                  sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1)));
  // Output names <value>_<summary>; a name given twice is refused (exact comparison).
  std::map<std::string, std::string> seen;  // name -> what made it
  for (const auto &f : pv.fields) seen.emplace(f, fmt::format("field '{}'", f));
  // Rows of the pivot: the needed columns of the source, filtered by the criteria. A CTE, so
  // that the criteria's parameters come first in the text (?1..?k) and the values' after.
  std::string needed;
  for (const auto &c : p.source.columns) {
    bool use = c == pv.column;
    for (const auto &f : pv.fields) use = use || c == f;
    for (const auto &s : pv.summaries) use = use || c == s.column;
    if (use) needed += (needed.empty() ? "" : ", ") + quote_ident(c);
  }
  int first = static_cast<int>(p.params.size()) + 1;
  for (size_t i = 0; i < values.size(); ++i) {
    for (const auto &s : pv.summaries) {
      std::string name = names[i] + "_" + s.name;
      std::string what = fmt::format("value {} of '{}' with summary '{}'", describe_value(values[i]), pv.column, s.name);
      auto [it, fresh] = seen.emplace(name, what);
      if (!fresh)
        throw ExportError(Code::not_admissible,
                          fmt::format("pivot output column '{}' would appear twice ({}; {}); output column names must "
                                      "be unique",
                                      name, it->second, what));
      cols += (cols.empty() ? "" : ", ") + summary_sql(s, pv.column, first + static_cast<int>(i)) + " AS " +
              quote_ident(name);
      p.columns.push_back(name);
    }
    p.params.push_back(values[i]);
  }
  p.sql = fmt::format("WITH {} AS (SELECT {} FROM {}{}) SELECT {} FROM {}{}", kPivotRows, needed, from, where, cols,
                      kPivotRows, tail);
}

// A value read from column col of st as JSON (bound back with Stmt::bind_json, which keeps
// integers, REALs and text apart). A BLOB has no JSON form: not_admissible.
json watermark_value(sqlite3_stmt *st, int col, const std::string &column) {
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: return json();
    case SQLITE_INTEGER: return json(static_cast<int64_t>(sqlite3_column_int64(st, col)));
    case SQLITE_FLOAT: return json(sqlite3_column_double(st, col));
    case SQLITE_TEXT: {
      const unsigned char *t = sqlite3_column_text(st, col);
      return json(std::string(t ? reinterpret_cast<const char *>(t) : "", static_cast<size_t>(sqlite3_column_bytes(st, col))));
    }
    default:
      throw ExportError(Code::not_admissible,
                        fmt::format("incremental column '{}' holds a BLOB value; its values must be numbers or text",
                                    column));
  }
}

// Option "incremental": read the bounds (see plan_run) and add their condition to cond and
// their values to p.params (after the criteria's, before a range's).
void add_incremental(sqlite3 *db, const Definition &def, Plan &p, bool full, std::string &cond) {
  p.incremental = true;
  const std::string col = incremental_expr(p.options, p.source);
  const std::string &name = p.options.incremental_column;
  if (!full && schema_exists(db)) {
    Stmt w(db,
           "SELECT watermark_to FROM main._export_runs WHERE export_id = ?1 AND status IN ('COMPLETE', 'DOWNLOADED', "
           "'EXPIRED') AND watermark_to IS NOT NULL ORDER BY number DESC LIMIT 1");
    w.bind(1, def.id);
    if (w.step()) p.watermark_from = watermark_value(w.get(), 0, name);
  }
  {
    // The greatest value now, above the watermark (compared as the export's condition compares,
    // with the column's affinity and collation); none above it (rows may have been deleted
    // since): the watermark stays.
    Stmt m(db, p.watermark_from.is_null() ? fmt::format("SELECT max({0}) FROM {1}", col, p.source.from_sql)
                                          : fmt::format("SELECT max({0}) FROM {1} WHERE {0} > ?1", col, p.source.from_sql));
    if (!p.watermark_from.is_null()) m.bind_json(1, p.watermark_from);
    m.step();
    p.watermark_to = watermark_value(m.get(), 0, name);
    if (p.watermark_to.is_null()) p.watermark_to = p.watermark_from;
  }
  if (full) return;  // every row; the run still records watermark_to
  std::string bound;
  if (p.watermark_from.is_null()) {
    bound = col + " <= ?";  // a NULL watermark_to (no value yet) matches nothing
  } else {
    bound = col + " > ? AND " + col + " <= ?";
    p.params.push_back(p.watermark_from);
  }
  p.params.push_back(p.watermark_to);
  cond = cond.empty() ? bound : "(" + cond + ") AND " + bound;
}

}  // namespace

std::string incremental_expr(const Options &options, const Source &src) {
  const std::string &c = options.incremental_column;
  if (find_column(src.columns, c) >= 0) return quote_ident(c);
  if (src.kind != Source::Kind::table || !src.has_rowid)
    throw ExportError(Code::invalid_request, "option 'incremental': \"rowid\" needs a table with a rowid as source");
  return src.rowid_name;
}

Plan plan_run(sqlite3 *db, const Definition &def, const json &run_criteria, bool check_run_rule,
              bool read_pivot_values, bool full) {
  Plan p;
  p.source = resolve_source(db, def.source);
  p.options = parse_options(def.options_text, def.format, def.name, p.source.columns);
  check_pivot_columns(def.columns, p.options);
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
  if (p.options.pivot) {
    plan_pivot(db, p, cc, read_pivot_values);
    return p;  // one reader: range_sql stays empty
  }

  std::string cols;
  for (const auto &c : p.columns) {
    if (!cols.empty()) cols += ", ";
    cols += quote_ident(c);
  }
  std::string cond = cc.where;
  if (!p.options.incremental_column.empty()) {
    if (read_pivot_values) add_incremental(db, def, p, full, cond);
    else p.incremental = true;  // export_run and the scheduler: the worker reads the bounds
  }
  std::string where = cond.empty() ? "" : " WHERE " + cond;
  std::string order;
  if (!p.options.order_by.empty()) {
    for (const auto &k : p.options.order_by) {
      if (!order.empty()) order += ", ";
      order += quote_ident(k.column) + (k.desc ? " DESC" : "");
    }
  } else if (p.source.kind == Source::Kind::table && p.source.has_rowid) {
    order = p.source.rowid_name;
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
    p.range_sql = fmt::format("SELECT {} FROM {} WHERE {}{} BETWEEN ? AND ? ORDER BY {}", cols, p.source.from_sql,
                              cond.empty() ? std::string() : "(" + cond + ") AND ", p.source.rowid_name,
                              p.source.rowid_name);
  return p;
}

bool is_source_error(int rc) noexcept {
  int prim = rc & 0xff;
  return prim == SQLITE_ERROR || prim == SQLITE_TOOBIG || prim == SQLITE_CONSTRAINT || prim == SQLITE_MISMATCH;
}

void bind_params(Stmt &stmt, const json &params) {
  int n = sqlite3_bind_parameter_count(stmt.get());
  int i = 1;
  for (const auto &v : params) {
    if (i > n) break;
    stmt.bind_json(i++, v);
  }
}

}  // namespace sqlexport
