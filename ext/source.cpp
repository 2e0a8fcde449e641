// source.cpp: resolve a definition's source against a connection's schema.
//
// A source is either a table or view name, optionally qualified `schema.name`, or exactly one
// read-only SELECT (or WITH ... SELECT, or VALUES) statement. It is never in the temp schema:
// the worker reads through its own connection, which cannot see another connection's temp
// tables.
#include "source.h"

#include <algorithm>

#include <cctype>

#include <fmt/format.h>

#include "db.h"
#include "errors.h"
#include "options.h"
#include "util.h"

namespace sqlexport {

namespace {

[[noreturn]] void bad(const std::string &msg) { throw ExportError(Code::invalid_request, msg); }

bool starts_with_word(const std::string &s, size_t pos, const char *word) {
  size_t n = std::char_traits<char>::length(word);
  if (s.size() < pos + n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[pos + i])) != word[i]) return false;
  return s.size() == pos + n || !(std::isalnum(static_cast<unsigned char>(s[pos + n])) || s[pos + n] == '_');
}

std::vector<std::string> statement_columns(sqlite3_stmt *st, const std::string &source) {
  std::vector<std::string> cols;
  int n = sqlite3_column_count(st);
  for (int i = 0; i < n; ++i) {
    const char *c = sqlite3_column_name(st, i);
    std::string name = c ? c : "";
    if (find_column(cols, name) >= 0)
      bad(fmt::format("source '{}' has two columns named '{}'; give each column a distinct name with AS", source, name));
    cols.push_back(name);
  }
  if (cols.empty()) bad(fmt::format("source '{}' returns no columns", source));
  return cols;
}

}  // namespace

bool source_is_statement(const std::string &source) {
  size_t i = 0;
  while (i < source.size() && std::isspace(static_cast<unsigned char>(source[i]))) ++i;
  return starts_with_word(source, i, "select") || starts_with_word(source, i, "with") ||
         starts_with_word(source, i, "values") || i != 0 || source.find_first_of(" \t\r\n;(") != std::string::npos;
}

// A source statement is run by export_count on the caller's connection: it must not call the
// extension's own functions (which start, stop or configure work). The compiled program
// lists every function the statement calls, views included: read it with EXPLAIN.
void refuse_extension_calls(sqlite3 *db, const std::string &source) {
  Stmt ex(db, "EXPLAIN " + source);
  while (ex.step()) {
    std::string op = ex.text(1);
    if (op.rfind("Function", 0) != 0 && op.rfind("PureFunc", 0) != 0 && op.rfind("Agg", 0) != 0) continue;
    std::string p4 = ex.text(5);  // addr, opcode, p1, p2, p3, p4, ...
    if (sqlite3_strnicmp(p4.c_str(), "export_", 7) == 0)
      bad(fmt::format("source statement must not call the extension's functions; it calls {}",
                      p4.substr(0, p4.find('('))));
  }
}

Source resolve_source(sqlite3 *db, const std::string &source) {
  Source src;
  if (source.empty()) bad("source is required: a table or view name, or one SELECT statement");
  if (source_is_statement(source)) {
    src.kind = Source::Kind::select;
    sqlite3_stmt *raw = nullptr;
    const char *tail = nullptr;
    int rc = sqlite3_prepare_v2(db, source.c_str(), static_cast<int>(source.size()), &raw, &tail);
    if (rc != SQLITE_OK) bad(fmt::format("source statement does not compile: {}", sqlite3_errmsg(db)));
    struct Finalize {
      sqlite3_stmt *s;
      ~Finalize() { sqlite3_finalize(s); }
    } fin{raw};
    if (!raw) bad("source statement is empty");
    while (tail && *tail && (std::isspace(static_cast<unsigned char>(*tail)) || *tail == ';')) ++tail;
    if (tail && *tail) bad("source must be exactly one SELECT statement; found more after the first");
    if (!sqlite3_stmt_readonly(raw) || !(starts_with_word(source, source.find_first_not_of(" \t\r\n"), "select") ||
                                         starts_with_word(source, source.find_first_not_of(" \t\r\n"), "with") ||
                                         starts_with_word(source, source.find_first_not_of(" \t\r\n"), "values")))
      bad("source statement must be read-only: one SELECT, WITH ... SELECT or VALUES");
    if (sqlite3_bind_parameter_count(raw) > 0)
      bad("source statement must not have parameters; put conditions in criteria");
    refuse_extension_calls(db, source);
    src.columns = statement_columns(raw, source);
    std::string body = source;
    while (!body.empty() && (std::isspace(static_cast<unsigned char>(body.back())) || body.back() == ';')) body.pop_back();
    src.from_sql = "(" + body + ")";
    return src;
  }

  std::string schema = "main", name = source;
  auto dot = source.find('.');
  if (dot != std::string::npos) {
    schema = source.substr(0, dot);
    name = source.substr(dot + 1);
  }
  if (sqlite3_stricmp(schema.c_str(), "temp") == 0 || sqlite3_stricmp(schema.c_str(), "temporary") == 0)
    bad(fmt::format("source '{}' is in the temp schema, which the export worker cannot see; use a table of main or of "
                    "an attached database",
                    source));
  {
    Stmt s(db, "SELECT name FROM pragma_database_list WHERE name = ?1 COLLATE NOCASE");
    s.bind(1, schema);
    if (!s.step()) bad(fmt::format("source '{}' names schema '{}', which is not attached", source, schema));
    schema = s.text(0);
  }
  {
    Stmt s(db, fmt::format("SELECT type, name FROM {}.sqlite_schema WHERE type IN ('table', 'view') AND name = ?1 "
                           "COLLATE NOCASE",
                           quote_ident(schema)));
    s.bind(1, name);
    if (!s.step()) bad(fmt::format("source '{}' is not a table or view", source));
    src.kind = s.text(0) == "view" ? Source::Kind::view : Source::Kind::table;
    name = s.text(1);
  }
  if (name.rfind("sqlite_", 0) == 0) bad(fmt::format("source '{}' is an internal table of SQLite", source));
  src.schema = schema;
  src.name = name;
  src.from_sql = quote_ident(schema) + "." + quote_ident(name);
  {
    Stmt s(db, "SELECT * FROM " + src.from_sql);
    src.columns = statement_columns(s.get(), source);
  }
  if (src.kind == Source::Kind::table) {
    src.rowid_name.clear();
    for (const char *alias : {"rowid", "_rowid_", "oid"}) {
      bool taken = std::any_of(src.columns.begin(), src.columns.end(),
                               [&](const std::string &c) { return sqlite3_stricmp(c.c_str(), alias) == 0; });
      if (!taken) {
        src.rowid_name = alias;
        break;
      }
    }
    sqlite3_stmt *probe = nullptr;
    std::string sql = "SELECT " + src.rowid_name + " FROM " + src.from_sql;
    src.has_rowid = !src.rowid_name.empty() && sqlite3_prepare_v2(db, sql.c_str(), -1, &probe, nullptr) == SQLITE_OK;
    sqlite3_finalize(probe);
    if (!src.has_rowid) {
      Stmt pk(db, "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk > 0 ORDER BY pk");
      pk.bind(1, name).bind(2, schema);
      while (pk.step()) src.primary_key.push_back(pk.text(0));
    }
  }
  return src;
}

}  // namespace sqlexport
