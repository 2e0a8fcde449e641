// test_guarantees.cpp: the guarantees of SPEC section 9 that one process can show, through
// real connections to a real database file: asynchronous return, transactional enqueue,
// snapshot consistency, WAL writers never blocked, one claim per run under 4 workers, abort of
// a queued and of a running run, clean close during an export (runs go back to the queue).
// Built into the TSan and ASan suites like every unit test.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "output.h"
#include "testdb.h"

using testdb::Db;
using testdb::eventually;
using testdb::Folder;

namespace {

long long count_lines(const std::string &path) {
  std::ifstream in(path);
  long long n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

bool sanitized() {
  const char *s = std::getenv("EXPORT_SANITIZE");
  return s && *s;
}

// Rows for "big" exports: enough that an export takes a while, fewer under sanitizers.
long long big_rows() { return sanitized() ? 50000 : 200000; }

struct SlowRows {  // makes the worker sleep after each row, for the connections opened meanwhile
  explicit SlowRows(const char *us) { setenv("SQLITE_EXPORT_TEST_ROW_DELAY_US", us, 1); }
  ~SlowRows() { unsetenv("SQLITE_EXPORT_TEST_ROW_DELAY_US"); }
};

// a.db in f: a 100-row table `big`, the definition 't' of it, and the worker count 0 (so that
// the next connection's worker, started with a file-system hook in place, runs the export).
void make_small_definition(const Folder &f) {
  Db d(f / "a.db");
  testdb::make_big(d, 100);
  d.exec("INSERT INTO exports(name, source) VALUES ('t', 'big')");
  d.exec("SELECT export_config('workers', 0)");
}

// At the output folder's fsync that follows the first rename into place, plays another worker
// that took the run over while this one stalled: it bumps the run's lease_token (as a claim
// does) and puts its own file at the same name; then the fsync fails.
class TakeoverAtPublish : public sqlexport::FileSystem {
 public:
  explicit TakeoverAtPublish(std::string db) : db_(std::move(db)) {}
  int renameat(int dirfd, const char *from, const char *to) override {
    int rc = FileSystem::renameat(dirfd, from, to);
    if (rc == 0 && name_.empty()) name_ = to;
    return rc;
  }
  int fsync(int fd) override {
    if (name_.empty() || fired_.load()) return FileSystem::fsync(fd);
    sqlite3 *db = nullptr;
    bool ok = sqlite3_open(db_.c_str(), &db) == SQLITE_OK;
    ok = ok && sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
         sqlite3_exec(db, "UPDATE _export_runs SET lease_token = lease_token + 1 WHERE status = 'RUNNING'", nullptr,
                      nullptr, nullptr) == SQLITE_OK &&
         sqlite3_changes(db) == 1;
    sqlite3_close(db);
    int out = ::openat(fd, name_.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    ok = ok && out >= 0 && ::write(out, kTheirs, sizeof kTheirs - 1) == static_cast<ssize_t>(sizeof kTheirs - 1);
    if (out >= 0) ::close(out);
    took_over_.store(ok);
    fired_.store(true);
    errno = EIO;
    return -1;
  }
  static constexpr char kTheirs[] = "the new owner's file\n";
  std::atomic<bool> fired_{false};
  std::atomic<bool> took_over_{false};

 private:
  std::string db_;
  std::string name_;  // the first name renamed into place
};

// At the output folder's fsync that follows the first rename into place, another connection
// takes the write lock and keeps it for hold_ms (in a thread of its own); then the fsync fails.
class LockedAtPublish : public sqlexport::FileSystem {
 public:
  LockedAtPublish(std::string db, int hold_ms) : db_(std::move(db)), hold_ms_(hold_ms) {}
  ~LockedAtPublish() override {
    if (holder_.joinable()) holder_.join();
  }
  int renameat(int dirfd, const char *from, const char *to) override {
    int rc = FileSystem::renameat(dirfd, from, to);
    if (rc == 0) renamed_.store(true);
    return rc;
  }
  int fsync(int fd) override {
    if (!renamed_.load() || fired_.load()) return FileSystem::fsync(fd);
    fired_.store(true);
    holder_ = std::thread([this] {
      sqlite3 *db = nullptr;
      bool ok = sqlite3_open(db_.c_str(), &db) == SQLITE_OK && sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
                sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
      locked_.store(ok);
      held_.store(true);
      if (ok) {
        std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms_));
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
      sqlite3_close(db);
    });
    while (!held_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    errno = EIO;
    return -1;
  }
  std::atomic<bool> fired_{false};
  std::atomic<bool> locked_{false};

 private:
  std::string db_;
  int hold_ms_;
  std::atomic<bool> renamed_{false};
  std::atomic<bool> held_{false};
  std::thread holder_;
};

// The first fsync (the file's own, before finishing the run) takes stall_ms; at the first
// rename into place, notes the run's lease_until.
class StallThenWatchLease : public sqlexport::FileSystem {
 public:
  StallThenWatchLease(std::string db, int stall_ms) : db_(std::move(db)), stall_ms_(stall_ms) {}
  int fsync(int fd) override {
    if (!stalled_.exchange(true)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms_));
      stall_end_ms_.store(epoch_ms());
    }
    return FileSystem::fsync(fd);
  }
  static long long epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int renameat(int dirfd, const char *from, const char *to) override {
    if (!watched_.exchange(true)) {
      sqlite3 *db = nullptr;
      sqlite3_stmt *q = nullptr;
      if (sqlite3_open(db_.c_str(), &db) == SQLITE_OK &&
          sqlite3_prepare_v2(db, "SELECT lease_until FROM _export_runs WHERE status = 'RUNNING'", -1, &q, nullptr) ==
              SQLITE_OK &&
          sqlite3_step(q) == SQLITE_ROW) {
        lease_until_ms_.store(sqlite3_column_int64(q, 0));
        seen_.store(true);
      }
      sqlite3_finalize(q);
      sqlite3_close(db);
    }
    return FileSystem::renameat(dirfd, from, to);
  }
  std::atomic<bool> seen_{false};
  std::atomic<long long> lease_until_ms_{0};  // the run's lease_until at the first rename
  std::atomic<long long> stall_end_ms_{0};    // when the stalled fsync returned

 private:
  std::string db_;
  int stall_ms_;
  std::atomic<bool> stalled_{false};
  std::atomic<bool> watched_{false};
};

// A VFS named "write-lock-watch": the default VFS, except that it counts how often a
// connection takes the WAL write lock of a main database file (SQLite's exclusive lock on
// shared-memory slot 0). The worker's connections open their files through the VFS of the
// application's connection, so they are counted too.
struct WriteLockWatch {
  static inline std::atomic<int> taken{0};
  static inline sqlite3_vfs *base = nullptr;
  static inline const sqlite3_io_methods *base_methods = nullptr;
  static inline sqlite3_io_methods methods{};
  static inline sqlite3_vfs vfs{};
  static inline std::atomic<int> unwatched{0};  // main database files with another method table

  static int shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    if (offset == 0 && (flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE)) taken.fetch_add(1);
    return base_methods->xShmLock(f, offset, n, flags);
  }
  static int open(sqlite3_vfs *, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    int rc = base->xOpen(base, name, f, flags, out_flags);
    if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) && f->pMethods) {
      if (f->pMethods == base_methods) f->pMethods = &methods;
      else unwatched.fetch_add(1);
    }
    return rc;
  }
  // Registers the VFS once (never unregistered: connections of other tests may still use it).
  static void install() {
    static std::once_flag once;
    std::call_once(once, [] {
      base = sqlite3_vfs_find(nullptr);
      // The base's method table for main database files: that of a file it opens.
      sqlite3_file *probe = static_cast<sqlite3_file *>(sqlite3_malloc(base->szOsFile));
      std::memset(probe, 0, static_cast<size_t>(base->szOsFile));
      Folder tmp;
      std::string path = tmp / "probe.db";
      int out = 0;
      if (base->xOpen(base, path.c_str(), probe, SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      &out) == SQLITE_OK &&
          probe->pMethods && probe->pMethods->iVersion >= 2) {
        base_methods = probe->pMethods;
        methods = *base_methods;
        methods.xShmLock = shm_lock;
      }
      if (probe->pMethods) probe->pMethods->xClose(probe);
      sqlite3_free(probe);
      vfs = *base;
      vfs.zName = "write-lock-watch";
      vfs.xOpen = open;
      vfs.pNext = nullptr;
      sqlite3_vfs_register(&vfs, 0);
    });
  }
};

}  // namespace

TEST_CASE("a failing worker leaves alone the files of the worker that took its run over", "[guarantee][takeover]") {
  // The run's worker fails after renaming its file into place, but another worker owns the run
  // by then (its lease ran out while the disk stalled): the name is the new owner's file now.
  // The failing worker must neither remove it nor mark the run FAILED.
  Folder f;
  make_small_definition(f);
  TakeoverAtPublish fs(f / "a.db");
  sqlexport::set_file_system_for_testing(&fs);
  {
    Db d(f / "a.db");
    std::string id = d.text("SELECT export_run('t', '[]')");
    REQUIRE(eventually([&] { return fs.fired_.load(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the worker handles the failure
  }  // closing joins the worker
  sqlexport::set_file_system_for_testing(nullptr);
  REQUIRE(fs.took_over_.load());
  std::ifstream in(f / "a.db-exports/t-1.csv", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes == TakeoverAtPublish::kTheirs);
  Db plain(f / "a.db", false);
  CHECK(plain.text("SELECT status FROM _export_runs") == "RUNNING");  // the new owner's to finish
  CHECK(plain.integer("SELECT count(*) FROM _export_files") == 1);     // nor forgets its records
}

TEST_CASE("a failing worker that cannot check its ownership keeps its published files recorded", "[guarantee][takeover]") {
  // The run's worker renamed its file into place, then the folder's fsync failed; it may remove
  // the file only after checking, under the write lock, that the run is still its own. Another
  // connection holds that lock for longer than the check waits (2 s): the file must stay, and so
  // must its record once the run's failure is recorded (when the lock is free), so that the
  // sweep or a later attempt removes it. Forgetting the record would leave a file that nothing
  // knows about. (The worker's sweep may already have removed both by the time we look: that
  // is the fate the record exists for.)
  Folder f;
  make_small_definition(f);
  const std::string file = f / "a.db-exports/t-1.csv";
  LockedAtPublish fs(f / "a.db", 4000);
  sqlexport::set_file_system_for_testing(&fs);
  {
    Db d(f / "a.db");
    std::string id = d.text("SELECT export_run('t', '[]')");
    REQUIRE(eventually([&] { return fs.fired_.load(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the check gave up, the lock is still held
    CHECK(count_lines(file) == 101);
    CHECK(d.text("SELECT export_wait('" + id + "', 20000)") == "FAILED");
  }  // closing joins the worker
  sqlexport::set_file_system_for_testing(nullptr);
  REQUIRE(fs.locked_.load());
  Db plain(f / "a.db", false);
  CHECK(plain.text("SELECT failure_reason FROM _export_runs").find("fsync") != std::string::npos);
  bool on_disk = count_lines(file) > 0;
  bool recorded = plain.integer("SELECT count(*) FROM _export_files WHERE path LIKE '%t-1.csv'") == 1;
  CHECK(on_disk == recorded);
}

TEST_CASE("finishing renews the lease before it renames files into place", "[guarantee][takeover]") {
  // The file's fsync stalls for longer than the lease (1 s here): without a renewal in the
  // transaction that records the files, the renames would happen under an expired lease, and
  // another worker could rescue the run and publish the same names meanwhile.
  Folder f;
  make_small_definition(f);
  StallThenWatchLease fs(f / "a.db", 1500);
  sqlexport::set_file_system_for_testing(&fs);
  std::string status;
  {
    Db d(f / "a.db");
    d.exec("SELECT export_config('lease_ms', 1000)");
    std::string id = d.text("SELECT export_run('t', '[]')");
    status = d.text("SELECT export_wait('" + id + "', 20000)");
  }
  sqlexport::set_file_system_for_testing(nullptr);
  CHECK(status == "COMPLETE");
  REQUIRE(fs.seen_.load());
  CAPTURE(fs.lease_until_ms_.load() - fs.stall_end_ms_.load());
  // Renewed after the stall (to about 1 s after it); without the renewal the lease would end
  // about 1 s after the last heartbeat, which came before the 1.5 s stall.
  CHECK(fs.lease_until_ms_.load() > fs.stall_end_ms_.load());
}

TEST_CASE("export_run returns at once and the worker writes the file", "[guarantee][async]") {
  Folder f;
  Db d(f / "a.db");
  testdb::make_big(d, big_rows());
  d.exec("INSERT INTO exports(name, source) VALUES ('big', 'big')");
  auto t0 = std::chrono::steady_clock::now();
  std::string id = d.text("SELECT export_run('big', '[]')");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(id.size() == 22);
  CHECK(ms < 500);  // generous: the guarantee is "milliseconds, whatever the size"
  CHECK(d.text("SELECT export_wait('" + id + "')") == "COMPLETE");
  CHECK(count_lines(f / "a.db-exports/big-1.csv") == big_rows() + 1);
}

TEST_CASE("a run exists only if its transaction commits", "[guarantee][transactional]") {
  Folder f;
  Db d(f / "a.db");
  d.exec("CREATE TABLE t(a); INSERT INTO t VALUES (1); INSERT INTO exports(name, source) VALUES ('t', 't');");
  d.exec("BEGIN; SELECT export_run('t', '[]');");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a worker would have run it by now
  d.exec("ROLLBACK");
  CHECK(d.integer("SELECT count(*) FROM export_runs") == 0);
  CHECK(testdb::files_in(f / "a.db-exports").empty());
  d.exec("BEGIN; SELECT export_run('t', '[]');");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Not committed: still invisible to the worker's connection, so still queued.
  CHECK(d.text("SELECT status FROM export_runs") == "CREATED");
  d.exec("COMMIT");
  std::string id = d.text("SELECT id FROM export_runs");
  CHECK(d.text("SELECT export_wait('" + id + "', 20000)") == "COMPLETE");
}

TEST_CASE("a run exports the snapshot of its start; WAL writers go on meanwhile", "[guarantee][snapshot]") {
  Folder f;
  SlowRows slow("20");
  Db d(f / "a.db");
  long long n = big_rows() / 4;
  testdb::make_big(d, n);
  d.exec("INSERT INTO exports(name, source) VALUES ('big', 'big')");
  std::string id = d.text("SELECT export_run('big', '[]')");
  REQUIRE(eventually([&] { return d.text("SELECT status FROM export_runs") == "RUNNING"; }));
  // Commit while the run reads: none of these rows may appear in its file, and no commit may
  // wait for the export (busy timeout 0: a blocked writer would fail at once... or retry
  // briefly past a heartbeat, which holds the write lock for a moment).
  sqlite3_busy_timeout(d.db, 1000);
  int committed = 0;
  auto worst = std::chrono::milliseconds(0);
  for (int i = 0; i < 50; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    d.exec("INSERT INTO big(name, value) VALUES ('late', 1)");
    worst = std::max(worst, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0));
    ++committed;
  }
  bool still_running = d.text("SELECT status FROM export_runs") == "RUNNING";
  CHECK(committed == 50);
  CHECK(worst.count() < 500);
  CHECK(d.text("SELECT export_wait('" + id + "')") == "COMPLETE");
  CHECK(d.integer("SELECT rows_written FROM export_runs") == n);
  CHECK(count_lines(f / "a.db-exports/big-1.csv") == n + 1);
  INFO("the export was still running after the commits: " << still_running);
}

TEST_CASE("four workers claim each run exactly once", "[guarantee][claim]") {
  Folder f;
  Db d(f / "a.db");
  d.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1), (2), (3);");
  d.exec("INSERT INTO exports(name, source, options) VALUES ('t', 't', '{\"exclusive\": false}')");
  CHECK(d.integer("SELECT export_config('workers', 4)") == 4);
  for (int i = 0; i < 40; ++i) d.exec("SELECT export_run('t', '[]')");
  REQUIRE(eventually([&] { return d.integer("SELECT count(*) FROM export_runs WHERE status = 'COMPLETE'") == 40; },
                     60000));
  CHECK(d.integer("SELECT count(*) FROM export_runs WHERE attempts <> 1") == 0);
  CHECK(d.integer("SELECT count(DISTINCT number) FROM export_runs") == 40);
  CHECK(d.integer("SELECT count(*) FROM export_files") == 40);
  CHECK(testdb::files_in(f / "a.db-exports").size() == 40);
  INFO("workers that ran runs: " << d.integer("SELECT count(DISTINCT lease_owner) FROM _export_runs"));
}

TEST_CASE("abort stops a queued run and a running run, leaving no file", "[guarantee][abort]") {
  Folder f;
  SlowRows slow("100");
  Db d(f / "a.db");
  testdb::make_big(d, 20000);
  d.exec("INSERT INTO exports(name, source) VALUES ('big', 'big')");

  d.exec("SELECT export_config('workers', 0)");
  std::string queued = d.text("SELECT export_run('big', '[]')");
  CHECK(d.integer("SELECT export_abort('" + queued + "')") == 1);
  CHECK(d.integer("SELECT export_abort('" + queued + "')") == 0);
  CHECK(d.text("SELECT status FROM export_runs WHERE id = '" + queued + "'") == "ABORTED");

  d.exec("SELECT export_config('workers', 1)");
  std::string running = d.text("SELECT export_run('big', '[]')");
  REQUIRE(eventually([&] {
    return d.integer("SELECT rows_written FROM export_runs WHERE id = '" + running + "'") > 0;
  }));
  auto t0 = std::chrono::steady_clock::now();
  d.exec("UPDATE export_runs SET status = 'ABORTED' WHERE id = '" + running + "'");
  CHECK(d.text("SELECT export_wait('" + running + "')") == "ABORTED");
  // The worker notices within a heartbeat and removes its temporary file.
  CHECK(eventually([&] { return testdb::files_in(f / "a.db-exports").empty(); }, 5000));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms < 3000);
  CHECK(d.integer("SELECT count(*) FROM export_files") == 0);
}

TEST_CASE("closing the connection during an export is quick and queues the run again", "[guarantee][shutdown]") {
  Folder f;
  std::string id;
  {
    SlowRows slow(sanitized() ? "1000" : "200");  // seconds of export: the close lands in the middle
    Db d(f / "a.db");
    testdb::make_big(d, 20000);
    d.exec("INSERT INTO exports(name, source) VALUES ('big', 'big')");
    id = d.text("SELECT export_run('big', '[]')");
    bool started = eventually([&] { return d.integer("SELECT rows_written FROM export_runs") > 0; });
    INFO("status " << d.text("SELECT status || ' ' || attempts || ' ' || coalesce(lease_owner, '-') FROM _export_runs"));
    REQUIRE(started);
    REQUIRE(d.text("SELECT status FROM export_runs") == "RUNNING");
    auto t0 = std::chrono::steady_clock::now();
    d.close();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms < 1500);
  }
  {
    Db plain(f / "a.db", false);  // without the extension: no worker can pick the run up meanwhile
    CHECK(plain.text("SELECT status FROM _export_runs") == "CREATED");
    CHECK(plain.integer("SELECT attempts FROM _export_runs") == 0);
    for (const auto &name : testdb::files_in(f / "a.db-exports")) FAIL_CHECK("left behind: " << name);
  }
  {
    Db d(f / "a.db", true);
    CHECK(d.text("SELECT export_wait('" + id + "')") == "COMPLETE");
    CHECK(d.integer("SELECT rows_written FROM export_runs") == 20000);
  }
}

TEST_CASE("a plain :memory: database is refused; a shared memdb works", "[guarantee][memory]") {
  {
    Db d(":memory:");
    d.exec("CREATE TABLE t(a); INSERT INTO exports(name, source) VALUES ('t', 't')");
    CHECK_THROWS_WITH(d.exec("SELECT export_run('t', '[]')"),
                      Catch::StartsWith("export_run: not_admissible: this database is private to its connection"));
    CHECK(d.integer("SELECT export_config('workers')") == 0);
  }
  {
    Folder f;
    Db d("file:/sqlexport-memdb-test?vfs=memdb");
    d.exec("CREATE TABLE t(a); INSERT INTO t VALUES (42); INSERT INTO exports(name, source) VALUES ('t', 't')");
    CHECK_THROWS_WITH(d.exec("SELECT export_run('t', '[]')"),
                      Catch::StartsWith("export_run: not_admissible: an in-memory database has no default output folder"));
    d.exec("SELECT export_config('output_dir', '" + (f / "out") + "')");
    CHECK(d.text("SELECT export_wait(export_run('t', '[]'), 20000)") == "COMPLETE");
    std::ifstream in(f / "out/t-1.csv");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(all == "a\n42\n");
  }
}

TEST_CASE("an idle worker never takes the write lock; its sweep takes it only when there is work", "[guarantee][idle]") {
  // An application without a busy timeout must never meet the lock of a worker that has
  // nothing to do: the worker looks for work and for leftovers (its sweep, about a second after
  // it starts, then every 30 s) with reads, and writes only when it finds some.
  WriteLockWatch::install();
  REQUIRE(WriteLockWatch::base_methods != nullptr);
  Folder f;
  const std::string uri = "file:" + (f / "a.db") + "?vfs=write-lock-watch";
  {
    Db d(uri);
    testdb::make_big(d, 100);
    d.exec("INSERT INTO exports(name, source) VALUES ('t', 'big')");
    std::string id = d.text("SELECT export_run('t', '[]')");
    REQUIRE(d.text("SELECT export_wait('" + id + "')") == "COMPLETE");
  }
  // The first read of a database that every connection had closed rebuilds SQLite's WAL index
  // under the write lock, whichever connection reads first: the application reads before the
  // count starts.
  // A temporary file of no live attempt: the sweep removes it (with no write lock), which
  // shows that the sweep ran while the locks were counted.
  const std::string leftover = f / "a.db-exports/.t-9.csv.gone-1.tmp";
  std::ofstream(leftover) << "left over\n";
  {
    Db d(uri);  // a new worker: its first sweep comes about a second later, with nothing to write
    d.text("SELECT count(*) FROM big");
    WriteLockWatch::taken.store(0);
    CHECK(eventually([&] { return access(leftover.c_str(), F_OK) != 0; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the rest of the idle loop
    CHECK(WriteLockWatch::taken.load() == 0);
  }
  {
    Db plain(f / "a.db", false);
    plain.exec("UPDATE _export_runs SET expires_at = '2000-01-01T00:00:00.000Z'");
  }
  {
    Db d(uri);  // the same, with an expired run to purge: the sweep takes the lock (and is seen)
    d.text("SELECT count(*) FROM big");
    WriteLockWatch::taken.store(0);
    CHECK(eventually([&] { return d.text("SELECT status FROM export_runs") == "EXPIRED"; }));
    CHECK(WriteLockWatch::taken.load() > 0);
  }
  CHECK(WriteLockWatch::unwatched.load() == 0);
}
