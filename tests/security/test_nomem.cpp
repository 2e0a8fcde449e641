// test_nomem.cpp: issue 8, test 11: SQLite's allocator failing on the Nth allocation.
//
//   - On the calling connection, during export_run and during a write of `exports`: for every
//     N from 1 to the number of allocations the call makes (once, then from the Nth on), the
//     call either succeeds completely or fails with SQLITE_NOMEM or a clear "<function>: ..."
//     error, never crashes, and stores nothing half-way: a refused export_run leaves no run
//     and no gap in the run numbers, a refused INSERT leaves no definition.
//   - In the worker, during an export: its Nth allocation fails once (N over every allocation
//     the worker makes for a 3-part gzip run, by a stride when there are many); the run ends
//     COMPLETE with every file intact, or FAILED with no file left; never a crash or a hang.
//   - No leak: SQLite's memory in use comes back to where it was once the connection is
//     closed (and LeakSanitizer checks everything else in the ASan build).
// The failing allocator is installed by nomem_main.cpp before SQLite initializes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <vector>

#include "failing_malloc.h"
#include "security_util.h"
#include "testdb.h"

using namespace security;
using testdb::Db;
using testdb::Folder;

namespace {

struct Result {
  int rc = SQLITE_OK;
  int extended = SQLITE_OK;
  std::string text;   // the value on success
  std::string error;  // the message on failure
};

// Prepare and step one statement with faults armed; faults are disarmed before anything else.
Result attempt(sqlite3 *db, const std::string &sql, long nth, bool persistent) {
  Result r;
  arm_malloc_faults(Whose::main_thread, nth, persistent);
  sqlite3_stmt *st = nullptr;
  r.rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (r.rc == SQLITE_OK) {
    r.rc = sqlite3_step(st);
    if (r.rc == SQLITE_ROW && sqlite3_column_text(st, 0)) r.text = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
  }
  disarm_malloc_faults();
  if (r.rc != SQLITE_ROW && r.rc != SQLITE_DONE) {
    r.extended = sqlite3_extended_errcode(db);
    r.error = sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  return r;
}

// SECURITY_NOMEM_ONLY=N: try only the Nth allocation in each loop (to reproduce a finding,
// with SECURITY_NOMEM_TRACE=1 to see where that allocation was made).
bool only_one() { return std::getenv("SECURITY_NOMEM_ONLY") != nullptr; }
long first_n() { return only_one() ? std::atol(std::getenv("SECURITY_NOMEM_ONLY")) : 1; }

long stride_for(long count, long max_steps) { return std::max(1L, (count + max_steps - 1) / max_steps); }

bool refused_clearly(const Result &r, const std::string &function) {
  if (r.rc == SQLITE_NOMEM || (r.extended & 0xff) == SQLITE_NOMEM) return true;
  return r.error.rfind(function + ": ", 0) == 0;
}

}  // namespace

TEST_CASE("nomem: export_run and exports writes on the calling connection", "[security][nomem]") {
  const sqlite3_int64 baseline = sqlite3_memory_used();
  long tried = 0, refused = 0, succeeded = 0;
  std::set<std::string> errors;  // distinct refusals seen
  {
    Folder f;
    Db d(f / "a.db");
    d.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
           "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');"
           "SELECT export_config('workers', 0);"  // runs stay queued: only the caller allocates
           "INSERT INTO exports(name, source, options) VALUES ('x', 't', '{\"exclusive\": false}');");
    const std::string run_sql = "SELECT export_run('x', '[{\"attribute\": \"v\", \"operator\": \"IS_IN\", \"value\": [\"a\", \"b\"]}]')";

    // export_run
    arm_malloc_faults(Whose::main_thread, 0, false);
    REQUIRE(d.text(run_sql).size() == 22);
    disarm_malloc_faults();
    const long run_allocs = malloc_faults().counted.load();
    REQUIRE(run_allocs > 10);
    for (bool persistent : {false, true}) {
      for (long n = first_n(), step = only_one() ? run_allocs + 2 : stride_for(run_allocs, 400); n <= run_allocs + 1;
           n += step) {
        long runs_before = d.integer("SELECT count(*) FROM export_runs");
        Result r = attempt(d.db, run_sql, n, persistent);
        ++tried;
        CAPTURE(persistent, n, r.rc, r.extended, r.error);
        CHECK(sqlite3_get_autocommit(d.db) == 1);
        long runs_after = d.integer("SELECT count(*) FROM export_runs");
        if (r.rc == SQLITE_ROW) {
          ++succeeded;
          CHECK(r.text.size() == 22);
          CHECK(runs_after == runs_before + 1);
          CHECK(d.text("SELECT status FROM export_runs WHERE id = " + q(r.text)) == "CREATED");
        } else {
          ++refused;
          CHECK(refused_clearly(r, "export_run"));
          errors.insert(std::to_string(r.rc) + " " + r.error);
          // (Once a known bug: the result was allocated after the run was stored, so a refused
          // call could leave a run behind.)
          CHECK(runs_after == runs_before);
        }
        // Run numbers have no gap and the next one follows the last.
        CHECK(d.integer("SELECT count(*) FROM export_runs") == d.integer("SELECT max(number) FROM export_runs"));
        CHECK(d.integer("SELECT next_number FROM _export_definitions WHERE name = 'x'") ==
              d.integer("SELECT max(number) FROM export_runs") + 1);
      }
    }

    // INSERT INTO exports: validated, then stored whole or not at all.
    const std::string def_sql =
        "INSERT INTO exports(name, source, columns, criteria, options) VALUES ('d' || (SELECT count(*) FROM exports), "
        "'SELECT id, v FROM t WHERE id > 1', '[\"v\", \"id\"]', '[{\"attribute\": \"id\", \"operator\": \"IS_BETWEEN\", "
        "\"value\": [1, 9]}]', '{\"output_name\": \"out' || (SELECT count(*) FROM exports) || '\", \"file_max_rows\": 2}')";
    arm_malloc_faults(Whose::main_thread, 0, false);
    d.exec(def_sql);
    disarm_malloc_faults();
    const long def_allocs = malloc_faults().counted.load();
    REQUIRE(def_allocs > 10);
    for (bool persistent : {false, true}) {
      for (long n = first_n(), step = only_one() ? def_allocs + 2 : stride_for(def_allocs, 400); n <= def_allocs + 1;
           n += step) {
        long defs_before = d.integer("SELECT count(*) FROM _export_definitions");
        Result r = attempt(d.db, def_sql, n, persistent);
        ++tried;
        CAPTURE(persistent, n, r.rc, r.extended, r.error);
        CHECK(sqlite3_get_autocommit(d.db) == 1);
        long defs_after = d.integer("SELECT count(*) FROM _export_definitions");
        if (r.rc == SQLITE_DONE) {
          ++succeeded;
          CHECK(defs_after == defs_before + 1);
        } else {
          ++refused;
          CHECK((refused_clearly(r, "exports") || r.error == "out of memory"));
          errors.insert(std::to_string(r.rc) + " " + r.error);
          CHECK(defs_after == defs_before);
        }
      }
    }
    // Everything stored is whole: every definition reads back and plans.
    CHECK(d.integer("SELECT count(*) FROM exports WHERE json_valid(options) AND options LIKE '%\"output_name\"%'") ==
          d.integer("SELECT count(*) FROM _export_definitions"));
    CHECK(d.integer("SELECT count(*) FROM exports WHERE export_count(id) = 2") ==
          d.integer("SELECT count(*) FROM _export_definitions") - 1);
    WARN("nomem (calling connection): export_run makes " << run_allocs << " SQLite allocations, INSERT INTO exports "
                                                         << def_allocs << "; " << tried << " failing calls tried ("
                                                         << refused << " refused cleanly, " << succeeded
                                                         << " succeeded whole); errors seen:\n"
                                                         << [&] {
                                                              std::string all;
                                                              for (const auto &e : errors) all += "  " + e + "\n";
                                                              return all;
                                                            }());
  }
  CHECK(sqlite3_memory_used() == baseline);
}

TEST_CASE("nomem: a worker's allocation failing during an export", "[security][nomem]") {
  const sqlite3_int64 baseline = sqlite3_memory_used();
  long tried = 0, complete = 0, failed = 0, worker_allocs = 0;
  std::vector<long> wedged;  // allocations whose failure left the worker unable to claim runs (once a bug)
  {
    Folder f;
    auto open = [&] {
      auto d = std::make_unique<Db>(f / "a.db");
      d->exec("SELECT export_config('lease_ms', 1000)");
      return d;
    };
    auto d = open();
    d->exec("PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE poke(x);"
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 30) "
            "INSERT INTO t SELECT i, 'row ' || i FROM c;"
            "INSERT INTO exports(name, source, options) VALUES ('x', 't', "
            "'{\"exclusive\": false, \"file_max_rows\": 10, \"compression\": \"gzip\"}');");
    const std::string out = f / "a.db-exports";
    // A first run, unfaulted: the worker has opened its connections.
    REQUIRE(d->text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
    d->exec("DELETE FROM export_runs");
    // How many allocations the worker makes for one run (its polling included).
    arm_malloc_faults(Whose::other_threads, 0, false);
    REQUIRE(d->text("SELECT export_wait(export_run('x', '[]'))") == "COMPLETE");
    disarm_malloc_faults();
    worker_allocs = malloc_faults().counted.load();
    REQUIRE(worker_allocs > 10);
    d->exec("DELETE FROM export_runs");
    const long max_steps = sanitized() ? 60 : 150;
    const long stride = only_one() ? worker_allocs + 1 : stride_for(worker_allocs, max_steps);
    // Bounded in time too, whatever the machine's load: the allocations not reached are said.
    const auto budget = std::chrono::seconds(sanitized() ? 120 : 60);
    const auto started = std::chrono::steady_clock::now();
    long last_n = 0;
    for (long n = first_n(); n <= worker_allocs; n += stride) {
      if (std::chrono::steady_clock::now() - started > budget) break;
      last_n = n;
      arm_malloc_faults(Whose::other_threads, n, false);
      std::string id = d->text("SELECT export_run('x', '[]')");
      // A healthy worker ends the run in milliseconds, or after one lease (1 s) when it must
      // be rescued. A failure while it looks for work makes it look again at its next rescan
      // (1 s); a commit makes it look at once, so the test commits now and then.
      std::string status;
      bool never_claimed = false;
      for (int waited = 0; waited < 10000; waited += 100) {
        status = d->text("SELECT export_wait(" + q(id) + ", 100)");
        if (status != "CREATED" && status != "RUNNING") break;
        // Still not claimed 1.5 s and 15 commits later: this worker claims nothing any more.
        never_claimed = waited >= 1500 && status == "CREATED" &&
                        d->integer("SELECT attempts FROM export_runs WHERE id = " + q(id)) == 0;
        if (never_claimed) break;
        d->exec("INSERT INTO poke VALUES (1)");
      }
      disarm_malloc_faults();
      ++tried;
      std::string reason = d->text("SELECT failure_reason FROM export_runs WHERE id = " + q(id));
      CAPTURE(n, status, reason, malloc_faults().failed.load());
      if (never_claimed) {
        // Once a known bug: the worker's reader stayed inside BEGIN when the claim failed after
        // it, so every later claim failed. A new connection (new worker) takes the run over.
        FAIL_CHECK("after allocation " << n << " failed, the worker claimed no run any more");
        wedged.push_back(n);
        d.reset();
        d = open();
        status = d->text("SELECT export_wait(" + q(id) + ", 20000)");
        reason = d->text("SELECT failure_reason FROM export_runs WHERE id = " + q(id));
      }
      CHECK((status == "COMPLETE" || status == "FAILED"));
      if (status == "COMPLETE") {
        ++complete;
        CHECK(d->integer("SELECT sum(row_count) FROM export_files WHERE run_id = " + q(id)) == 30);
        CHECK(d->integer("SELECT count(*) FROM export_files WHERE run_id = " + q(id)) == 3);
        sqlite3_stmt *st = nullptr;
        REQUIRE(sqlite3_prepare_v2(d->db,
                                   ("SELECT path, size_bytes, sha256 FROM export_files WHERE run_id = " + q(id)).c_str(),
                                   -1, &st, nullptr) == SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
          std::string bytes = read_file(reinterpret_cast<const char *>(sqlite3_column_text(st, 0)));
          CHECK(static_cast<long long>(bytes.size()) == sqlite3_column_int64(st, 1));
          CHECK(sha256_hex(bytes) == reinterpret_cast<const char *>(sqlite3_column_text(st, 2)));
        }
        sqlite3_finalize(st);
      } else if (status == "FAILED") {
        ++failed;
        CHECK(d->integer("SELECT count(*) FROM export_files WHERE run_id = " + q(id)) == 0);
        CHECK(entries(out).empty());
      } else {
        d->exec("SELECT export_abort(" + q(id) + ")");
        d->text("SELECT export_wait(" + q(id) + ", 10000)");
      }
      d->exec("DELETE FROM export_runs WHERE id = " + q(id));
      CHECK(entries(out).empty());
    }
    d.reset();
    CHECK(wedged.empty());
    WARN("nomem (worker): a 3-part gzip run makes about "
         << worker_allocs << " SQLite allocations in the worker; " << tried << " failing allocations tried (1 to "
         << last_n << ", every " << stride << "): " << complete << " runs COMPLETE and intact, " << failed
         << " FAILED with nothing left");
    CHECK(tried >= 20);
  }
  CHECK(sqlite3_memory_used() == baseline);
}
