// test_readahead.cpp: the read-ahead VFS of the workers' readers (ext/readahead.cpp).
//
// It must batch page reads (else it is useless) and must never let a block outlive the locks
// it was read under: a reader that starts a new transaction after another connection changed
// the file (and checkpointed, so the new pages are in the database file itself) must see the
// new bytes, in WAL and in rollback-journal mode; and inside one transaction it must keep
// seeing its snapshot while another connection writes and checkpoints.
#include <catch2/catch.hpp>

#include <string>

#include "readahead.h"
#include "testdb.h"

using testdb::Db;
using testdb::Folder;

namespace {

// A plain connection (no extension) through the VFS named vfs ("" for the default).
struct Raw {
  sqlite3 *db = nullptr;
  Raw(const std::string &path, const std::string &vfs) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            vfs.empty() ? nullptr : vfs.c_str()) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Raw() { sqlite3_close(db); }
  Raw(const Raw &) = delete;
  Raw &operator=(const Raw &) = delete;
  void exec(const std::string &sql) const {
    char *err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    INFO(msg << " in: " << sql);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string text(const std::string &sql) const {
    sqlite3_stmt *st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
};

// Every row's text in rowid order, as one string: reads every page of the table.
const char *kAll = "SELECT group_concat(id || ':' || v, ',') FROM (SELECT id, v FROM t ORDER BY id)";

// Table t holds rows rows of about 110 bytes (1,000 rows: some 30 pages, all inside one block).
void fill(const Raw &w, const std::string &journal, const std::string &value, int rows = 1000) {
  w.exec("PRAGMA journal_mode = " + journal);
  w.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
  w.exec("BEGIN; DELETE FROM t; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) "
         "INSERT INTO t SELECT i, '" + value + "' || i || printf('%.100c', 'x') FROM c WHERE i <= " +
         std::to_string(rows) + "; COMMIT");
}

}  // namespace

TEST_CASE("readahead: only SQLite's unix VFSes are wrapped", "[readahead]") {
  CHECK(sqlexport::readahead_vfs("") == "sqlite-export-readahead-unix");
  CHECK(sqlexport::readahead_vfs("unix-excl") == "sqlite-export-readahead-unix-excl");
  CHECK(sqlexport::readahead_vfs("memdb").empty());
  CHECK(sqlexport::readahead_vfs("no-such-vfs").empty());
  CHECK(sqlite3_vfs_find("sqlite-export-readahead-unix") != nullptr);
}

TEST_CASE("readahead: a scan reads the file in blocks and sees the same rows", "[readahead]") {
  Folder f;
  std::string path = f / "r.db";
  Raw w(path, "");
  fill(w, "WAL", "a", 3000);
  w.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  Raw r(path, sqlexport::readahead_vfs(""));
  auto before = sqlexport::readahead_stats_for_testing();
  std::string seen = r.text(kAll);
  auto after = sqlexport::readahead_stats_for_testing();
  CHECK(seen == w.text(kAll));
  CHECK(seen.size() > 300000);  // about 90 pages of 4 KiB
  uint64_t fills = after.fills - before.fills, served = after.served - before.served;
  CHECK(fills >= 1);
  CHECK(served > 10 * fills);  // most page reads come from a block
}

TEST_CASE("readahead: a new transaction sees what others committed and checkpointed", "[readahead]") {
  for (std::string journal : {"WAL", "DELETE"}) {
    CAPTURE(journal);
    Folder f;
    std::string path = f / "r.db";
    Raw w(path, "");
    fill(w, journal, "old");
    if (journal == "WAL") w.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    Raw r(path, sqlexport::readahead_vfs(""));
    std::string first = r.text(kAll);  // fills a block with the whole file
    CHECK(first.find("old") != std::string::npos);
    for (int round = 0; round < 3; ++round) {
      std::string value = "new" + std::to_string(round) + "-";
      fill(w, journal, value);  // rewrites every page
      if (journal == "WAL") w.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // into the file itself
      std::string now = r.text(kAll);
      CHECK(now == w.text(kAll));
      CHECK(now.find("old") == std::string::npos);
      CHECK(now.find(value) != std::string::npos);
    }
  }
}

TEST_CASE("readahead: inside one transaction the reader keeps its snapshot", "[readahead]") {
  Folder f;
  std::string path = f / "r.db";
  Raw w(path, "");
  fill(w, "WAL", "old");
  w.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  std::string old_rows = w.text(kAll);
  Raw r(path, sqlexport::readahead_vfs(""));
  r.exec("BEGIN");
  CHECK(r.text("SELECT v FROM t WHERE id = 1").find("old") == 0);  // the snapshot starts here
  fill(w, "WAL", "new");
  w.exec("PRAGMA wal_checkpoint(PASSIVE)");  // copies what it may: not past the reader's mark
  CHECK(r.text(kAll) == old_rows);
  r.exec("COMMIT");
  CHECK(r.text(kAll) == w.text(kAll));
}
