// testdb.h: helpers for tests that drive the extension through real connections.
#pragma once
#include <sqlite3.h>
#include <sqlite_export.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace testdb {

// A fresh folder, removed with its contents.
struct Folder {
  std::string path;
  Folder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sqlexport-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~Folder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string &name) const { return path + "/" + name; }
};

// A connection with the extension loaded (as an application linking it statically would).
struct Db {
  sqlite3 *db = nullptr;
  explicit Db(const std::string &path, bool load = true) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr) !=
        SQLITE_OK)
      throw std::runtime_error("open failed");
    sqlite3_busy_timeout(db, 5000);
    if (load) {
      char *err = nullptr;
      if (sqlite3_export_init(db, &err, nullptr) != SQLITE_OK) throw std::runtime_error(err ? err : "init failed");
    }
  }
  ~Db() { close(); }
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;
  void close() {
    if (db) sqlite3_close(db);
    db = nullptr;
  }
  // Run SQL; throw with SQLite's message on error.
  void exec(const std::string &sql) const {
    char *err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "error";
      sqlite3_free(err);
      throw std::runtime_error(msg + " in: " + sql);
    }
  }
  // First column of the first row as text ("" for NULL or no row).
  std::string text(const std::string &sql) const {
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string(sqlite3_errmsg(db)) + " in: " + sql);
    std::string out;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) out = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
    std::string err = sqlite3_errmsg(db);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(err + " in: " + sql);
    return out;
  }
  long long integer(const std::string &sql) const { return std::stoll("0" + text(sql)); }
};

// Fill table big(id INTEGER PRIMARY KEY, name TEXT, value REAL) with n rows.
inline void make_big(const Db &d, long long n) {
  d.exec("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS big(id INTEGER PRIMARY KEY, name TEXT, value REAL);");
  d.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + std::to_string(n) +
         ") INSERT INTO big SELECT i, 'name ' || i || ' with some text to make the row longer', i * 0.5 FROM c");
}

// Wait until pred() or timeout; returns pred().
template <class F>
bool eventually(F pred, int timeout_ms = 20000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Names in a folder (empty when it does not exist).
inline std::vector<std::string> files_in(const std::string &dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace testdb
