// vtab_files.cpp: `export_files`, the files of every run (SPEC section 7). Read-only.
//
//   SELECT part, path, size_bytes, row_count, sha256 FROM export_files WHERE run_id = :run;
//   SELECT export_download(id) FROM export_files WHERE run_id = :run AND part = 1;
#include "errors.h"
#include "vtab.h"

namespace sqlexport {

namespace {

void update_files(sqlite3 *, Service &, int, sqlite3_value **, sqlite3_int64 *) {
  throw ExportError(Code::invalid_request,
                    "export_files is read-only; files are removed with their run (DELETE FROM export_runs) or by expiry");
}

}  // namespace

const TableSpec kFilesTable = {
    "export_files",
    "CREATE TABLE x(id TEXT, run_id TEXT, part INTEGER, path TEXT, format TEXT, compression TEXT, size_bytes INTEGER, "
    "row_count INTEGER, sha256 TEXT, created_at TEXT, expires_at TEXT, downloaded_at TEXT)",
    "SELECT rowid, id, run_id, part, path, format, compression, size_bytes, row_count, sha256, created_at, expires_at, "
    "downloaded_at FROM main._export_files WHERE NOT EXISTS (SELECT 1 FROM main._export_runs r WHERE r.id = run_id "
    "AND r.status IN ('CREATED', 'RUNNING', 'FAILED', 'ABORTED'))",  // files being put in place, or left to the sweep
    {"id", "run_id"},
    false,
    update_files,
};

}  // namespace sqlexport
