// service.h: the export service a connection starts when it loads the extension.
//
// One Service per connection that loaded the extension (state belongs to that connection, not
// to globals). It owns the worker threads; each worker opens its own connections to the same
// database file through the same VFS and never touches the application's connection. The
// Service is destroyed when the connection closes (SQLite calls the destructors of the
// extension's functions), which stops and joins the workers within about a second.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "db.h"

namespace sqlexport {

class Worker;

struct ServiceConfig {
  std::string output_dir;  // "" = none (in-memory database without a configured folder)
  int64_t lease_ms = 15000;
  int max_attempts = 3;
  // Readers one run of a rowid table may use at once (each reads one rowid range of the same
  // snapshot); 1 = one reader per run.
  int parallel = 1;
  // Tests only: sleep this long after each row (environment SQLITE_EXPORT_TEST_ROW_DELAY_US,
  // read when the service starts), so that a test can act while an export is running.
  int64_t test_row_delay_us = 0;
  // Tests only: in a run read in parallel, sleep this long after every reader holds the
  // snapshot and before any reads a row (SQLITE_EXPORT_TEST_PARALLEL_DELAY_MS), so that a test
  // can commit in that window.
  int64_t test_parallel_delay_ms = 0;
  // Tests only: the scheduler sleeps this long between seeing a due definition and taking the
  // write lock to queue its run (SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS), so that a test can make
  // two processes race for one due time.
  int64_t test_schedule_delay_ms = 0;
};

class Service {
 public:
  // The service of app_db's main database; no worker runs until start().
  explicit Service(sqlite3 *app_db);
  // Start the default number of workers (1) when other connections can open the database.
  void start();
  ~Service();
  Service(const Service &) = delete;
  Service &operator=(const Service &) = delete;

  // Stop and join every worker; runs in flight are interrupted and queued again. Idempotent.
  void shutdown() noexcept;

  // The database file workers open ("" for a private in-memory database) and its VFS.
  const std::string &db_path() const noexcept { return db_path_; }
  const std::string &vfs_name() const noexcept { return vfs_name_; }
  // True when other connections can open this database (a file or a shared memdb).
  bool shareable() const noexcept { return !db_path_.empty(); }

  ServiceConfig config() const;
  void set_output_dir(const std::string &dir);
  void set_lease_ms(int64_t ms);
  void set_parallel(int n);
  int workers() const;
  // Start or stop workers so that n run. Throws ExportError(not_admissible) for n > 0 on a
  // database other connections cannot open.
  void set_workers(int n);

  // The status of a run as committed in the database, read through the service's own
  // connection (so the caller's open transaction does not hide progress); nullopt when no
  // committed run has that id. Called on the application's thread.
  std::optional<std::string> committed_status(const std::string &run_id);

 private:
  std::string db_path_;
  std::string vfs_name_;
  mutable std::mutex mu_;
  ServiceConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int next_worker_index_ = 0;
  std::mutex waiter_mu_;
  std::unique_ptr<Connection> waiter_;  // opened on first export_wait
};

// Open one of the extension's own connections to svc's database (no functions of the
// extension are registered on it). Throws SqliteError.
Connection open_internal(const Service &svc, bool read_only);

// Wake every worker of the process to look for work now (a run was requested or aborted).
void wake_workers() noexcept;

// Called by the entry point: true while this thread opens one of the extension's own
// connections (the entry point then registers nothing, so workers do not start services).
bool opening_internal_connection() noexcept;

}  // namespace sqlexport
