// vtab_runs.cpp: `export_runs`, the runs of every definition (SPEC section 4).
//
//   SELECT number, status, rows_written, progress FROM export_runs WHERE export_name = 'orders';
//   UPDATE export_runs SET status = 'ABORTED' WHERE id = :run;   -- abort (only this change)
//   DELETE FROM export_runs WHERE id = :run;                     -- a finished run and its files
#include <fmt/format.h>

#include "errors.h"
#include "runs.h"
#include "schema.h"
#include "service.h"
#include "vtab.h"

namespace sqlexport {

namespace {

enum Col { kId, kExportId, kExportName, kNumber, kStatus };
constexpr int kColumnCount = 25;

void update_runs(sqlite3 *db, Service &svc, int argc, sqlite3_value **argv, sqlite3_int64 *) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
    throw ExportError(Code::invalid_request, "runs are created with export_run(export, criteria), not INSERT");
  Stmt q(db, "SELECT id, status FROM main._export_runs WHERE rowid = ?1");
  q.bind(1, sqlite3_value_int64(argv[0]));
  if (!q.step()) return;
  std::string id = q.text(0), status = q.text(1);
  q.reset();
  if (argc == 1) {
    if (status == "CREATED" || status == "RUNNING")
      throw ExportError(Code::state_conflict,
                        fmt::format("run '{}' is {}; abort it (export_abort) before deleting it", id, status));
    delete_run_files(db, id, svc.config().output_dir);
    Stmt f(db, "DELETE FROM main._export_files WHERE run_id = ?1");
    f.bind(1, id);
    f.exec();
    Stmt r(db, "DELETE FROM main._export_runs WHERE id = ?1");
    r.bind(1, id);
    r.exec();
    return;
  }
  for (int col = 0; col < kColumnCount; ++col) {
    if (col == kStatus) continue;
    if (!sqlite3_value_nochange(update_column(argv, col)))
      throw ExportError(Code::invalid_request,
                        "only status can be changed, and only to 'ABORTED' (UPDATE export_runs SET status = 'ABORTED')");
  }
  sqlite3_value *v = update_column(argv, kStatus);
  if (sqlite3_value_nochange(v)) return;
  const unsigned char *t = sqlite3_value_text(v);
  std::string want = t ? reinterpret_cast<const char *>(t) : "NULL";
  if (want != "ABORTED")
    throw ExportError(Code::invalid_request, fmt::format("status can only be set to 'ABORTED', not '{}'", want));
  abort_run(db, id);
  wake_workers();
}

}  // namespace

const TableSpec kRunsTable = {
    "export_runs",
    "CREATE TABLE x(id TEXT, export_id TEXT, export_name TEXT, number INTEGER, status TEXT, criteria TEXT, sql TEXT, "
    "params TEXT, created_at TEXT, started_at TEXT, finished_at TEXT, expires_at TEXT, rows_matched INTEGER, "
    "rows_written INTEGER, bytes_written INTEGER, file_count INTEGER, attempts INTEGER, progress REAL, "
    "failure_reason TEXT, origin TEXT, requested_by TEXT, metadata TEXT, scheduled_for TEXT, watermark_from, "
    "watermark_to)",
    "SELECT r.rowid, r.id, r.export_id, d.name, r.number, r.status, r.criteria, r.sql, r.params, r.created_at, "
    "r.started_at, r.finished_at, r.expires_at, r.rows_matched, r.rows_written, r.bytes_written, r.file_count, "
    "r.attempts, r.progress, r.failure_reason, r.origin, r.requested_by, r.metadata, r.scheduled_for, "
    "r.watermark_from, r.watermark_to FROM main._export_runs r LEFT JOIN main._export_definitions d "
    "ON d.id = r.export_id",
    {"r.id", "r.export_id", "d.name", nullptr, "r.status"},
    true,
    update_runs,
};

}  // namespace sqlexport
