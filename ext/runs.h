// runs.h: operations on runs and files shared by the SQL functions, the virtual tables and the
// workers. All take the connection to use; none starts its own transaction unless it says so.
#pragma once
#include <cstdint>
#include <string>

#include "common.h"
#include "options.h"

namespace sqlexport {

inline constexpr const char *kFinalStatuses = "'COMPLETE', 'DOWNLOADED', 'EXPIRED', 'FAILED', 'ABORTED'";

// The file name of a part: <output_name>-<number>[-<part>].<ext>[.gz]; part 0 = no part suffix.
std::string file_name(const Options &o, Format f, int64_t number, int64_t part);

// Delete the files recorded for run_id from disk, but only those inside output_dir (files
// recorded elsewhere are left alone). Never throws for a file that is already gone.
void delete_run_files(sqlite3 *db, const std::string &run_id, const std::string &output_dir);

// delete_run_files, then delete the run's file records.
void clear_run_files(sqlite3 *db, const std::string &run_id, const std::string &output_dir);

// Leftovers of FAILED and ABORTED runs whose worker could not clean up (its process died, or
// it lost the write lock): delete their recorded files and the records. Returns how many runs
// it cleaned. Call inside a write transaction.
int64_t clear_dead_runs(sqlite3 *db, const std::string &output_dir);

// Expire finished runs whose expires_at has passed: delete their files, mark them EXPIRED.
// Returns how many runs it expired. Safe to re-run after an interruption.
int64_t purge_expired(sqlite3 *db, const std::string &output_dir);

// Abort a CREATED or RUNNING run. Returns 1 if it was aborted, 0 if it had already ended.
// Throws ExportError(not_found) for an unknown id.
int abort_run(sqlite3 *db, const std::string &run_id);

}  // namespace sqlexport
