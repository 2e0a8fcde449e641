// schema.cpp: create the extension's tables on first use; refuse a newer schema.
#include "schema.h"

#include <fmt/format.h>

#include "db.h"
#include "schema_sql.h"

namespace sqlexport {

bool schema_exists(sqlite3 *db) {
  // The version row is written last, so its presence means every table exists.
  Stmt s(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = '_export_meta'");
  if (!s.step()) return false;
  Stmt v(db, "SELECT 1 FROM main._export_meta WHERE key = 'schema_version'");
  return v.step();
}

void ensure_schema(sqlite3 *db) {
  if (schema_exists(db)) {
    Stmt v(db, "SELECT value FROM main._export_meta WHERE key = 'schema_version'");
    int64_t version = v.step() ? v.int64(0) : 0;
    if (version == kSchemaVersion) return;
    if (version > kSchemaVersion)
      throw ExportError(Code::not_admissible,
                        fmt::format("the database holds sqlite-export schema version {}, newer than this "
                                    "extension's {}; load a newer sqlite-export",
                                    version, kSchemaVersion));
    // Migrations from older versions go here, one step at a time.
  }
  // Every statement is idempotent (IF NOT EXISTS, OR IGNORE): a creation interrupted half-way
  // completes at the next use. No SAVEPOINT: this may run inside a statement in progress.
  exec(db, kSchemaSql);
}

}  // namespace sqlexport
