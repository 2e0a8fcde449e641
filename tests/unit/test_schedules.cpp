// test_schedules.cpp: schedules and incremental runs through real connections (issue 17).
// Several connections in one process each start a worker, so their schedulers race for every
// due time; the test clock (export_config('clock_offset_ms')) moves due times into the past.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "testdb.h"

using testdb::Db;
using testdb::eventually;
using testdb::Folder;

namespace {

constexpr long long kHourMs = 3600LL * 1000;

// Every line of a file (the exports here have no header).
std::vector<std::string> lines_of(const std::string &path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

struct ClockReset {
  const Db &d;
  ~ClockReset() { d.exec("SELECT export_config('clock_offset_ms', 0)"); }
};

}  // namespace

TEST_CASE("three workers racing queue exactly one run per due time", "[schedule]") {
  Folder f;
  Db a(f / "s.db");
  a.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('x')");
  a.exec("INSERT INTO exports(name, source, criteria, options) VALUES ('hourly', 't', '[]', "
         "'{\"schedule\": \"every 1 hour\", \"exclusive\": false}')");
  Db b(f / "s.db"), c(f / "s.db");  // two more services, two more workers
  ClockReset reset{a};
  std::string first_due = a.text("SELECT next_run_at FROM exports WHERE name = 'hourly'");
  REQUIRE(first_due.size() == 24);
  for (int step = 1; step <= 4; ++step) {
    a.exec("SELECT export_config('clock_offset_ms', " + std::to_string(step * kHourMs) + ")");
    CHECK(eventually([&] { return a.integer("SELECT count(*) FROM export_runs WHERE origin = 'schedule'") >= step; }));
    // Every scheduler has looked at least twice since: none queued a second run.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    CHECK(a.integer("SELECT count(*) FROM export_runs WHERE origin = 'schedule'") == step);
  }
  CHECK(a.integer("SELECT count(DISTINCT scheduled_for) FROM export_runs") == 4);
  CHECK(a.text("SELECT min(scheduled_for) FROM export_runs") == first_due);
  CHECK(eventually([&] { return a.integer("SELECT count(*) FROM export_runs WHERE status = 'COMPLETE'") == 4; }));
}

TEST_CASE("after downtime one catch-up run, and a due time during a run is skipped", "[schedule]") {
  Folder f;
  {
    Db a(f / "s.db");
    a.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('x')");
    a.exec("SELECT export_config('workers', 0)");
    a.exec("INSERT INTO exports(name, source, criteria, options) VALUES ('hourly', 't', '[]', "
           "'{\"schedule\": \"every 1 hour\"}')");
  }
  Db a(f / "s.db");
  ClockReset reset{a};
  std::string due = a.text("SELECT next_run_at FROM exports");
  a.exec("SELECT export_config('clock_offset_ms', " + std::to_string(3 * kHourMs + 60000) + ")");  // 3 due times missed
  CHECK(eventually([&] { return a.integer("SELECT count(*) FROM export_runs") >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(a.integer("SELECT count(*) FROM export_runs") == 1);
  CHECK(a.text("SELECT scheduled_for FROM export_runs") == due);  // the earliest missed due time
  CHECK(a.text("SELECT next_run_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+3 hours') FROM exports") == "1");
  CHECK(eventually([&] { return a.text("SELECT status FROM export_runs") == "COMPLETE"; }));
}

TEST_CASE("a due time that finds a run still running is skipped and counted", "[schedule]") {
  Folder f;
  setenv("SQLITE_EXPORT_TEST_ROW_DELAY_US", "2000", 1);  // read when a service starts: a's only
  Db a(f / "s.db");
  unsetenv("SQLITE_EXPORT_TEST_ROW_DELAY_US");
  testdb::make_big(a, 5000);  // 10 s at 2 ms a row: RUNNING long enough
  a.exec("INSERT INTO exports(name, source, criteria, options) VALUES ('hourly', 'big', '[]', "
         "'{\"schedule\": \"every 1 hour\"}')");
  ClockReset reset{a};
  std::string due = a.text("SELECT next_run_at FROM exports");
  // Writing the definition again with the same schedule keeps its due time.
  a.exec("UPDATE exports SET options = '{\"schedule\": \"every 1 hour\"}' WHERE name = 'hourly'");
  CHECK(a.text("SELECT next_run_at FROM exports") == due);
  std::string run = a.text("SELECT export_run('hourly')");
  REQUIRE(eventually([&] { return a.text("SELECT status FROM export_runs") == "RUNNING"; }));
  // a's worker is busy exporting; b's worker schedules (and has no other work).
  Db b(f / "s.db");
  a.exec("SELECT export_config('clock_offset_ms', " + std::to_string(kHourMs) + ")");
  CHECK(eventually([&] { return a.text("SELECT next_run_at FROM exports") != due; }));
  CHECK(a.text("SELECT status FROM export_runs WHERE id = '" + run + "'") == "RUNNING");
  CHECK(a.integer("SELECT skipped_runs FROM exports") == 1);
  CHECK(a.text("SELECT last_skipped_at FROM exports") == due);
  CHECK(a.integer("SELECT count(*) FROM export_runs") == 1);  // nothing queued behind it
  a.exec("SELECT export_abort('" + run + "')");
}

TEST_CASE("incremental runs under a writer lose no row and export none twice", "[incremental]") {
  Folder f;
  Db a(f / "i.db");
  a.exec("PRAGMA journal_mode = WAL; CREATE TABLE ev(id INTEGER PRIMARY KEY, v TEXT)");
  a.exec("INSERT INTO exports(name, source, criteria, options) VALUES ('ev', 'ev', '[]', "
         "'{\"incremental\": {\"column\": \"id\"}, \"header\": false}')");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    Db w(f / "i.db", false);
    long long n = 0;
    while (!stop.load()) {
      w.exec("INSERT INTO ev(v) VALUES ('row " + std::to_string(++n) + "')");
      if (n % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) {
    CHECK(a.text("SELECT export_wait(export_run('ev'))") == "COMPLETE");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  writer.join();
  std::multiset<std::string> seen;
  for (int i = 1; i <= kRuns; ++i)
    for (const auto &line : lines_of(f / ("i.db-exports/ev-" + std::to_string(i) + ".csv"))) seen.insert(line);
  // Every row up to the last run's watermark exactly once, none beyond it.
  long long last = a.integer("SELECT watermark_to FROM export_runs WHERE number = " + std::to_string(kRuns));
  CHECK(last > 0);
  std::multiset<std::string> expected;
  sqlite3_stmt *st = nullptr;
  REQUIRE(sqlite3_prepare_v2(a.db, ("SELECT id || ',' || v FROM ev WHERE id <= " + std::to_string(last)).c_str(), -1,
                             &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) expected.insert(reinterpret_cast<const char *>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  CHECK(seen.size() == expected.size());
  CHECK(seen == expected);
  // Consecutive runs meet: each starts where the one before ended.
  CHECK(a.integer("SELECT count(*) FROM export_runs r JOIN export_runs p ON p.number = r.number - 1 "
                  "WHERE r.watermark_from IS NOT p.watermark_to") == 0);
}
