// source.h: resolve a definition's source (a table or view, optionally schema.name, or one
// read-only SELECT statement) into its columns and the SQL that reads it.
#pragma once
#include <string>
#include <vector>

#include "common.h"

namespace sqlexport {

struct Source {
  enum class Kind { table, view, select } kind = Kind::table;
  std::string schema;                // table/view: the schema it lives in ("main", "aux", ...)
  std::string name;                  // table/view: its name as stored
  std::string from_sql;              // what follows FROM: "main"."orders" or (SELECT ...)
  std::vector<std::string> columns;  // in order
  bool has_rowid = false;            // a table with a rowid that rowid_name reaches
  // The name that reaches the rowid: "rowid", or "_rowid_" / "oid" when a column is named
  // "rowid" (a column of that name hides the rowid). When all three are columns, has_rowid is
  // false and the table is read like a table without rowid.
  std::string rowid_name = "rowid";
  std::vector<std::string> primary_key;  // a WITHOUT ROWID table's key columns
};

// Resolve source text on db. Throws ExportError(invalid_request) saying what is wrong:
// unknown table, temp schema, a statement that writes, more than one statement, parameters.
Source resolve_source(sqlite3 *db, const std::string &source);

// True when the source text is a statement rather than a table or view name.
bool source_is_statement(const std::string &source);

}  // namespace sqlexport
