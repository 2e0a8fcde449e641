// test_parallel.cpp: a run read by two connections at once (export_config('parallel', 2)),
// and the write pipeline that both paths feed.
//
// The parallel path must be invisible in the output: the same bytes as one reader, in rowid
// order, from one snapshot (guarantee 3) while writers commit; and a failure or an abort during
// it must end the run cleanly. Each case checks through extra_reader_chunks_for_testing() that
// the second reader really read part of the run, so a silent fallback to one reader fails it.
// Built into the TSan and ASan suites like every unit test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "output.h"
#include "testdb.h"
#include "worker.h"

using testdb::Db;
using testdb::eventually;
using testdb::Folder;

namespace {

bool sanitized() {
  const char *s = std::getenv("EXPORT_SANITIZE");
  return s && *s;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct SlowRows {  // makes the readers sleep after each row
  explicit SlowRows(const char *us) { setenv("SQLITE_EXPORT_TEST_ROW_DELAY_US", us, 1); }
  ~SlowRows() { unsetenv("SQLITE_EXPORT_TEST_ROW_DELAY_US"); }
};

// Table p with n rows on sparse rowids (negative ones, gaps, two far apart at the end, so most
// chunks of the span are empty), every storage class, and text that needs quoting.
void make_sparse(const Db &d, long long n) {
  d.exec("PRAGMA journal_mode = WAL; CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, v REAL, k INTEGER, b BLOB);");
  d.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + std::to_string(n) +
         ") INSERT INTO p SELECT i * 3 - 5000, CASE WHEN i % 7 = 0 THEN 'say \"hi\", ' || i || char(10) || 'x' "
         "WHEN i % 11 = 0 THEN NULL ELSE 'name ' || i END, i * 0.25, i % 100, CASE WHEN i % 13 = 0 THEN "
         "randomblob(4) END FROM c");
  d.exec("INSERT INTO p(id, name, k) VALUES (4000000000000000000, 'far', 1), (4000000000000000007, 'farther', 2)");
}

// Run export name with the given parallel setting; returns the file's bytes.
std::string export_with(const Db &d, const Folder &f, const std::string &name, int parallel, const std::string &criteria,
                        const std::string &file) {
  d.exec("SELECT export_config('parallel', " + std::to_string(parallel) + ")");
  std::string id = d.text("SELECT export_run('" + name + "', '" + criteria + "')");
  REQUIRE(d.text("SELECT export_wait('" + id + "', 60000)") == "COMPLETE");
  std::string path = f / ("a.db-exports/" + file);
  std::string bytes = read_file(path);
  d.exec("DELETE FROM export_runs WHERE id = '" + id + "'");  // removes the file: the next run may reuse the name
  return bytes;
}

// Fails write() with ENOSPC once `after` bytes were written (through the extension's FileSystem).
class FullDisk : public sqlexport::FileSystem {
 public:
  explicit FullDisk(size_t after) : left_(after) {}
  ssize_t write(int fd, const void *buf, size_t n) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (n > left_) {
        errno = ENOSPC;
        return -1;
      }
      left_ -= n;
    }
    return FileSystem::write(fd, buf, n);
  }

 private:
  std::mutex mu_;
  size_t left_;
};

// Makes the first write() of at least 64 KiB sleep: a disk that stalls.
class StallingDisk : public sqlexport::FileSystem {
 public:
  explicit StallingDisk(int ms) : ms_(ms) {}
  ssize_t write(int fd, const void *buf, size_t n) override {
    if (n >= 64 * 1024 && !stalled_.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    return FileSystem::write(fd, buf, n);
  }

 private:
  int ms_;
  std::atomic<bool> stalled_{false};
};

}  // namespace

TEST_CASE("a worker waiting for a stalled disk keeps its lease", "[parallel][pipeline]") {
  // The pipeline's thread sleeps in write() for 3 s, three leases of 1 s: the worker's thread,
  // blocked while the pipeline's queue is full, must go on renewing its lease, or the second
  // worker takes the run over (attempts 2).
  Folder f;
  {
    Db d(f / "a.db");
    make_sparse(d, 60000);
    d.exec("INSERT INTO exports(name, source) VALUES ('p', 'p')");
    d.exec("SELECT export_config('workers', 0)");
  }
  StallingDisk disk(3000);
  sqlexport::set_file_system_for_testing(&disk);
  std::string status, attempts;
  {
    Db d(f / "a.db");
    d.exec("SELECT export_config('lease_ms', 1000)");
    d.exec("SELECT export_config('workers', 2)");
    std::string id = d.text("SELECT export_run('p', '[]')");
    status = d.text("SELECT export_wait('" + id + "', 60000)");
    attempts = d.text("SELECT attempts FROM export_runs WHERE id = '" + id + "'");
  }
  sqlexport::set_file_system_for_testing(nullptr);
  CHECK(status == "COMPLETE");
  CHECK(attempts == "1");
}

TEST_CASE("a parallel run writes the same bytes as one reader", "[parallel]") {
  Folder f;
  Db d(f / "a.db");
  long long n = sanitized() ? 20000 : 60000;
  make_sparse(d, n);
  d.exec(R"(INSERT INTO exports(name, source, format, options) VALUES
    ('csv', 'p', 'csv', '{"header": true, "bom": true}'),
    ('tsv', 'p', 'tsv', '{"null": "NA", "blob": "base64"}'),
    ('json', 'p', 'jsonl', '{}'))");
  struct Case {
    std::string name, criteria, file;
  } cases[] = {
      {"csv", "[]", "csv-1.csv"},
      {"tsv", "[]", "tsv-1.tsv"},
      {"json", "[]", "json-1.jsonl"},
      {"csv", R"([{"attribute": "k", "operator": "IS_LESS_THAN", "value": 30}])", "csv-2.csv"},
  };
  for (const auto &c : cases) {
    SECTION(c.name + " " + c.criteria) {
      // Numbers run on per definition: the one-reader run is number 1, the parallel one 2.
      std::string file1 = c.file, file2 = c.file;
      std::string one = export_with(d, f, c.name, 1, c.criteria, file1.replace(file1.find('-') + 1, 1, "1"));
      uint64_t before = sqlexport::extra_reader_chunks_for_testing();
      std::string two = export_with(d, f, c.name, 2, c.criteria, file2.replace(file2.find('-') + 1, 1, "2"));
      CHECK(sqlexport::extra_reader_chunks_for_testing() > before);  // really read by two
      REQUIRE(!one.empty());
      CHECK(one.size() == two.size());
      CHECK(one == two);
    }
  }
}

TEST_CASE("a parallel run exports the snapshot of its start while writers commit", "[parallel][snapshot]") {
  Folder f;
  long long n = sanitized() ? 8000 : 20000;
  std::string expected;
  {
    Db d(f / "a.db");
    make_sparse(d, n);
    d.exec("INSERT INTO exports(name, source) VALUES ('p', 'p')");
    expected = export_with(d, f, "p", 1, "[]", "p-1.csv");
  }
  // Read when the service starts: the readers wait 3 s after taking the snapshot, then sleep
  // after each row. Commits land in both phases: before any reader read a row, and while they read.
  SlowRows slow("50");
  setenv("SQLITE_EXPORT_TEST_PARALLEL_DELAY_MS", "3000", 1);
  Db d(f / "a.db");
  unsetenv("SQLITE_EXPORT_TEST_PARALLEL_DELAY_MS");
  uint64_t before = sqlexport::extra_reader_chunks_for_testing();
  d.exec("SELECT export_config('parallel', 2)");
  std::string id = d.text("SELECT export_run('p', '[]')");
  REQUIRE(eventually([&] { return d.text("SELECT status FROM export_runs WHERE id = '" + id + "'") == "RUNNING"; }));
  // Changes in every part of the span: none may reach the file.
  d.exec("UPDATE p SET v = v + 1, name = 'changed' WHERE id % 5 = 0");
  d.exec("INSERT INTO p(id, name) VALUES (-4999, 'new low'), (30002, 'new middle'), (4000000000000000003, 'new high')");
  CHECK(d.integer("SELECT rows_written FROM export_runs WHERE id = '" + id + "'") == 0);  // in the first phase
  REQUIRE(eventually([&] { return d.integer("SELECT rows_written FROM export_runs WHERE id = '" + id + "'") > 0; }));
  d.exec("UPDATE p SET v = v + 1, name = 'changed'");
  d.exec("DELETE FROM p WHERE id % 2 = 0");
  CHECK(d.text("SELECT status FROM export_runs WHERE id = '" + id + "'") == "RUNNING");
  REQUIRE(d.text("SELECT export_wait('" + id + "', 120000)") == "COMPLETE");
  CHECK(sqlexport::extra_reader_chunks_for_testing() > before);
  std::string got = read_file(f / "a.db-exports/p-2.csv");
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
  CHECK(d.integer("SELECT rows_written FROM export_runs WHERE id = '" + id + "'") == n + 2);
}

TEST_CASE("a write failure during a parallel run fails it cleanly", "[parallel][io]") {
  Folder f;
  long long n = sanitized() ? 20000 : 60000;
  {
    Db d(f / "a.db");
    make_sparse(d, n);
    d.exec("INSERT INTO exports(name, source) VALUES ('p', 'p')");
    d.exec("SELECT export_config('workers', 0)");
  }
  FullDisk full(512 * 1024);  // about a third of the file
  sqlexport::set_file_system_for_testing(&full);
  std::string status, reason;
  {
    Db d(f / "a.db");
    d.exec("SELECT export_config('parallel', 2)");
    std::string id = d.text("SELECT export_run('p', '[]')");
    status = d.text("SELECT export_wait('" + id + "', 60000)");
    reason = d.text("SELECT failure_reason FROM export_runs WHERE id = '" + id + "'");
  }  // closing joins the worker before the file system goes back
  sqlexport::set_file_system_for_testing(nullptr);
  CHECK(status == "FAILED");
  CHECK(reason.rfind("io_error: write '" + f / "a.db-exports/.p-1.csv.", 0) == 0);
  CHECK(reason.find("': No space left on device") != std::string::npos);
  CHECK(testdb::files_in(f / "a.db-exports").empty());
}

TEST_CASE("abort during a parallel run stops both readers and leaves no file", "[parallel][abort]") {
  Folder f;
  SlowRows slow("200");  // read when the service starts
  Db d(f / "a.db");
  make_sparse(d, 20000);
  d.exec("INSERT INTO exports(name, source) VALUES ('p', 'p')");
  d.exec("SELECT export_config('parallel', 2)");
  uint64_t before = sqlexport::extra_reader_chunks_for_testing();
  std::string id = d.text("SELECT export_run('p', '[]')");
  // The second reader is past its first chunk (of about 16,384 rowids: 5,000 rows here).
  REQUIRE(eventually([&] { return sqlexport::extra_reader_chunks_for_testing() > before; }, 60000));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(d.integer("SELECT export_abort('" + id + "')") == 1);
  CHECK(d.text("SELECT export_wait('" + id + "', 20000)") == "ABORTED");
  // The worker is free again soon: a new (small) run completes.
  std::string next = d.text(R"(SELECT export_run('p', '[{"attribute": "k", "operator": "IS_EQUAL_TO", "value": 1}]'))");
  CHECK(d.text("SELECT export_wait('" + next + "', 60000)") == "COMPLETE");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  INFO("abort to next run complete: " << ms << " ms");
  CHECK(ms < 20000);
  CHECK(testdb::files_in(f / "a.db-exports") == std::vector<std::string>{"p-2.csv"});  // the second run's only
  CHECK(d.integer("SELECT count(*) FROM export_files WHERE run_id = '" + id + "'") == 0);
}

TEST_CASE("rowids at both ends of the 64-bit range: one reader, no overflow", "[parallel]") {
  Folder f;
  Db d(f / "a.db");
  make_sparse(d, 5000);
  d.exec("INSERT INTO p(id, name) VALUES (-9223372036854775808, 'min'), (9223372036854775806, 'max')");
  d.exec("INSERT INTO exports(name, source) VALUES ('p', 'p')");
  std::string one = export_with(d, f, "p", 1, "[]", "p-1.csv");
  std::string two = export_with(d, f, "p", 2, "[]", "p-2.csv");  // the span is too wide to split
  CHECK(one == two);
  CHECK(one.find("-9223372036854775808,min") != std::string::npos);
  CHECK(one.find("9223372036854775806,max") != std::string::npos);
}

TEST_CASE("a column named rowid does not hide rows from a parallel run", "[parallel]") {
  Folder f;
  // Slowed rows (read when the service starts): the table has only 8 chunks, which one reader
  // could otherwise take before the second reader's thread is running.
  SlowRows slow("20");
  Db d(f / "a.db");
  d.exec("PRAGMA journal_mode = WAL");
  // "rowid" is a column here (NULL in most rows, repeated in others): the real rowid is _rowid_.
  d.exec("CREATE TABLE r(rowid INTEGER, v TEXT); CREATE TABLE all3(rowid, _rowid_, oid, v TEXT)");
  d.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000) "
         "INSERT INTO r(rowid, v) SELECT CASE WHEN i % 3 = 0 THEN i % 7 END, 'v' || i FROM c");
  d.exec("INSERT INTO all3 SELECT 1, NULL, 2, v FROM r");
  d.exec("INSERT INTO exports(name, source) VALUES ('r', 'r'), ('all3', 'all3')");
  for (const char *name : {"r", "all3"}) {
    SECTION(name) {
      std::string n = name;
      std::string one = export_with(d, f, n, 1, "[]", n + "-1.csv");
      uint64_t before = sqlexport::extra_reader_chunks_for_testing();
      std::string two = export_with(d, f, n, 2, "[]", n + "-2.csv");
      // r is read in parallel through _rowid_; all3 has no name left for its rowid: one reader.
      CHECK((sqlexport::extra_reader_chunks_for_testing() > before) == (n == "r"));
      CHECK(std::count(one.begin(), one.end(), '\n') == 20001);  // header + every row
      CHECK(one == two);
    }
  }
}
