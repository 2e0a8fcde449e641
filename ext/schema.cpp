// schema.cpp: create the extension's tables on first use, upgrade older versions in place,
// refuse a newer one.
//
// Version 2 (issue 17) adds columns for schedules, run metadata and incremental watermarks and
// an index (sql/schema.sql marks them "v2"). A version-1 database is upgraded by adding them
// (ALTER TABLE ... ADD COLUMN) and setting the version, in one transaction:
//   - upgrade_schema() runs it in a transaction of its own (BEGIN IMMEDIATE ... COMMIT, or a
//     SAVEPOINT inside the caller's open transaction, or inside the caller's write statement
//     when one is running). schema_exists() calls it when it meets version 1, so the first
//     use upgrades: a worker's first look for work (on its own connection), or the first
//     function call or table read of the application;
//   - ensure_schema() (called by every write of the extension) runs it inside the caller's
//     statement or transaction, which then commits or rolls back with it.
// Each step is skipped when done already, so two processes upgrading at once, or an upgrade
// that an earlier process began and rolled back, end in the same tables.
#include "schema.h"

#include <fmt/format.h>

#include "db.h"
#include "schema_sql.h"

namespace sqlexport {

namespace {

bool has_column(sqlite3 *db, const char *table, const char *column) {
  Stmt s(db, "SELECT 1 FROM pragma_table_info(?1, 'main') WHERE name = ?2");
  s.bind(1, std::string(table)).bind(2, std::string(column));
  return s.step();
}

// Version 1 to 2, in the caller's transaction.
void upgrade_1_to_2(sqlite3 *db) {
  static const char *const kSteps[][3] = {
      {"_export_definitions", "next_run_at", "ALTER TABLE main._export_definitions ADD COLUMN next_run_at TEXT"},
      {"_export_definitions", "skipped_runs",
       "ALTER TABLE main._export_definitions ADD COLUMN skipped_runs INTEGER NOT NULL DEFAULT 0"},
      {"_export_definitions", "last_skipped_at", "ALTER TABLE main._export_definitions ADD COLUMN last_skipped_at TEXT"},
      {"_export_runs", "origin", "ALTER TABLE main._export_runs ADD COLUMN origin TEXT NOT NULL DEFAULT 'manual'"},
      {"_export_runs", "requested_by", "ALTER TABLE main._export_runs ADD COLUMN requested_by TEXT"},
      {"_export_runs", "metadata", "ALTER TABLE main._export_runs ADD COLUMN metadata TEXT"},
      {"_export_runs", "scheduled_for", "ALTER TABLE main._export_runs ADD COLUMN scheduled_for TEXT"},
      {"_export_runs", "watermark_from", "ALTER TABLE main._export_runs ADD COLUMN watermark_from"},
      {"_export_runs", "watermark_to", "ALTER TABLE main._export_runs ADD COLUMN watermark_to"},
  };
  for (const auto &step : kSteps)
    if (!has_column(db, step[0], step[1])) exec(db, step[2]);
  exec(db,
       "CREATE UNIQUE INDEX IF NOT EXISTS main._export_runs_due ON _export_runs(export_id, scheduled_for) "
       "WHERE scheduled_for IS NOT NULL");
  // Stored options show every option (exports.options): add the two new ones, as none.
  exec(db,
       "UPDATE main._export_definitions SET options = json_insert(options, '$.incremental', json('null'), "
       "'$.schedule', json('null')) WHERE json_valid(options)");
  exec(db, "UPDATE main._export_meta SET value = 2 WHERE key = 'schema_version'");
}

[[noreturn]] void newer(int64_t version) {
  throw ExportError(Code::not_admissible,
                    fmt::format("the database holds sqlite-export schema version {}, newer than this extension's {}; "
                                "load a newer sqlite-export",
                                version, kSchemaVersion));
}

}  // namespace

int64_t schema_version(sqlite3 *db) {
  // The version row is written last, so its presence means every table exists.
  Stmt s(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = '_export_meta'");
  if (!s.step()) return 0;
  Stmt v(db, "SELECT value FROM main._export_meta WHERE key = 'schema_version'");
  return v.step() ? v.int64(0) : 0;
}

bool schema_exists(sqlite3 *db) {
  int64_t version = schema_version(db);
  if (version == 0) return false;
  if (version > kSchemaVersion) newer(version);
  if (version < kSchemaVersion && !upgrade_schema(db))
    throw ExportError(Code::state_conflict,
                      fmt::format("the database holds sqlite-export schema version {}, which is upgraded to version {} "
                                  "on first use; the upgrade could not run yet (the database was busy or read-only); "
                                  "try again",
                                  version, kSchemaVersion));
  return true;
}

void ensure_schema(sqlite3 *db) {
  int64_t version = schema_version(db);
  if (version == kSchemaVersion) return;
  if (version > kSchemaVersion) newer(version);
  if (version == 1) {
    upgrade_1_to_2(db);
    return;
  }
  // Every statement is idempotent (IF NOT EXISTS, OR IGNORE): a creation interrupted half-way
  // completes at the next use. No SAVEPOINT: this may run inside a statement in progress.
  exec(db, kSchemaSql);
}

bool upgrade_schema(sqlite3 *db) noexcept {
  try {
    int64_t version = schema_version(db);
    if (version == 0 || version >= kSchemaVersion) return version == kSchemaVersion;
    bool autocommit = sqlite3_get_autocommit(db) != 0;
    bool writing = false;  // a write statement of the caller's is running (say, INSERT INTO exports)
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, nullptr); s; s = sqlite3_next_stmt(db, s))
      writing = writing || (sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s));
    if (writing) {
      // Its transaction is the upgrade's: a COMMIT now would fail, a ROLLBACK abort it, and
      // SQLite opens no SAVEPOINT while a write statement runs. The upgrade commits with that
      // statement's transaction, or its statement journal undoes it.
      upgrade_1_to_2(db);
      return true;
    }
    bool own = autocommit;
    exec(db, own ? "BEGIN IMMEDIATE" : "SAVEPOINT _export_upgrade");
    try {
      if (schema_version(db) < kSchemaVersion) upgrade_1_to_2(db);  // another process may have done it
      exec(db, own ? "COMMIT" : "RELEASE _export_upgrade");
    } catch (...) {
      if (own) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      } else {
        sqlite3_exec(db, "ROLLBACK TO _export_upgrade", nullptr, nullptr, nullptr);
        sqlite3_exec(db, "RELEASE _export_upgrade", nullptr, nullptr, nullptr);
      }
      return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace sqlexport
