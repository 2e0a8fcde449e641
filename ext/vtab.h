// vtab.h: the frame shared by the three eponymous virtual tables (exports, export_runs,
// export_files). Each is a view of one of the extension's own tables: a cursor steps a SELECT
// over that table on the same connection; writes go through the table's own xUpdate.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "db.h"

namespace sqlexport {

class Service;

struct TableSpec {
  const char *name;         // the virtual table's name, used in error messages
  const char *declaration;  // CREATE TABLE x(...) given to sqlite3_declare_vtab
  const char *select;       // SELECT <rowid>, <columns...> FROM ... (no WHERE, no ORDER BY)
  // For each virtual column that can be looked up by equality, the SQL expression to compare
  // (nullptr when it cannot); indexed by column number.
  std::vector<const char *> lookup;
  bool direct_only;         // SQLITE_VTAB_DIRECTONLY: the table can write or delete files
  // xUpdate: argc/argv as SQLite gives them. Throws ExportError; sets *rowid on insert.
  void (*update)(sqlite3 *db, Service &svc, int argc, sqlite3_value **argv, sqlite3_int64 *rowid);
};

// Register an eponymous virtual table module for spec. Returns an SQLite result code.
int register_table(sqlite3 *db, const TableSpec &spec, const std::shared_ptr<Service> &svc);

// The value of column `col` (0-based, as declared) of an xUpdate call.
inline sqlite3_value *update_column(sqlite3_value **argv, int col) { return argv[2 + col]; }

}  // namespace sqlexport

namespace sqlexport {
extern const TableSpec kExportsTable;  // vtab_exports.cpp
extern const TableSpec kRunsTable;     // vtab_runs.cpp
extern const TableSpec kFilesTable;    // vtab_files.cpp
}  // namespace sqlexport
