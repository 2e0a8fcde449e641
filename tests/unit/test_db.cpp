// Tests of ext/db.h's with_write_lock: the retried write of the worker's clean-up paths
// (a failed run, a requeue at shutdown, the removal of published files).
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "db.h"
#include "testdb.h"

using namespace sqlexport;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// A WAL database with a table t, and two connections to it without a busy timeout: a write
// lock that is taken makes BEGIN IMMEDIATE fail at once.
struct TwoConnections {
  testdb::Folder dir;
  sqlite3 *a = nullptr, *b = nullptr;
  TwoConnections() {
    std::string path = dir / "t.db";
    REQUIRE(sqlite3_open(path.c_str(), &a) == SQLITE_OK);
    REQUIRE(sqlite3_exec(a, "PRAGMA journal_mode = WAL; CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_open(path.c_str(), &b) == SQLITE_OK);
  }
  ~TwoConnections() {
    sqlite3_close(a);
    sqlite3_close(b);
  }
  void exec(sqlite3 *c, const char *sql) { REQUIRE(sqlite3_exec(c, sql, nullptr, nullptr, nullptr) == SQLITE_OK); }
  int64_t rows() {
    sqlite3_stmt *st = nullptr;
    sqlite3_prepare_v2(a, "SELECT count(*) FROM t", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }
};

void insert(sqlite3 *c) {
  if (sqlite3_exec(c, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(c));
}

}  // namespace

TEST_CASE("with_write_lock commits the body's writes when the lock is free", "[db]") {
  TwoConnections t;
  std::atomic<bool> stopping{false};
  int tries = 0;
  bool ok = with_write_lock(t.a, milliseconds(1000), stopping, OnShutdown::skip, [&] {
    ++tries;
    insert(t.a);
  });
  CHECK(ok);
  CHECK(tries == 1);
  CHECK(t.rows() == 1);
}

TEST_CASE("with_write_lock waits for another connection's write lock, within its budget", "[db]") {
  TwoConnections t;
  std::atomic<bool> stopping{false};
  t.exec(t.b, "BEGIN IMMEDIATE");
  std::atomic<bool> released{false};
  std::thread release([&] {
    std::this_thread::sleep_for(milliseconds(150));
    released = true;
    sqlite3_exec(t.b, "COMMIT", nullptr, nullptr, nullptr);
  });
  int tries = 0;
  bool ok = with_write_lock(t.a, std::chrono::seconds(10), stopping, OnShutdown::ignore, [&] {
    ++tries;
    insert(t.a);
  });
  release.join();
  CHECK(ok);
  CHECK(released);  // the body ran only once the lock was free: BEGIN IMMEDIATE failed before
  CHECK(tries == 1);
  CHECK(t.rows() == 1);
}

TEST_CASE("with_write_lock rolls back a body that throws and runs it again", "[db]") {
  TwoConnections t;
  std::atomic<bool> stopping{false};
  int tries = 0;
  bool ok = with_write_lock(t.a, std::chrono::seconds(10), stopping, OnShutdown::ignore, [&] {
    insert(t.a);
    if (++tries < 3) throw std::runtime_error("not yet");
  });
  CHECK(ok);
  CHECK(tries == 3);
  CHECK(t.rows() == 1);  // the first two inserts were rolled back
}

TEST_CASE("with_write_lock gives up once its budget is spent", "[db]") {
  TwoConnections t;
  std::atomic<bool> stopping{false};
  t.exec(t.b, "BEGIN IMMEDIATE");
  int tries = 0;
  auto t0 = Clock::now();
  bool ok = with_write_lock(t.a, milliseconds(200), stopping, OnShutdown::ignore, [&] { ++tries; });
  auto took = Clock::now() - t0;
  t.exec(t.b, "COMMIT");
  CHECK_FALSE(ok);
  CHECK(tries == 0);
  CHECK(took >= milliseconds(200));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("with_write_lock during a shutdown: skip does not try, try_once tries once, ignore retries", "[db]") {
  TwoConnections t;
  std::atomic<bool> stopping{true};
  int tries = 0;
  auto failing = [&] {
    ++tries;
    throw std::runtime_error("always");
  };
  SECTION("skip") {
    CHECK_FALSE(with_write_lock(t.a, milliseconds(200), stopping, OnShutdown::skip, failing));
    CHECK(tries == 0);
  }
  SECTION("try_once") {
    CHECK_FALSE(with_write_lock(t.a, milliseconds(200), stopping, OnShutdown::try_once, failing));
    CHECK(tries == 1);
  }
  SECTION("ignore") {
    CHECK_FALSE(with_write_lock(t.a, milliseconds(200), stopping, OnShutdown::ignore, failing));
    CHECK(tries > 1);
  }
  CHECK(t.rows() == 0);
}
