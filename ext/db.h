// db.h: small RAII types that own SQLite handles (Connection, Stmt, Savepoint, Transaction),
// and with_write_lock, a write transaction retried while another connection holds the lock.
// None can be copied; all move noexcept; destructors never throw.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "common.h"
#include "errors.h"

namespace sqlexport {

// Throw SqliteError with the connection's current message.
[[noreturn]] void throw_sqlite(sqlite3 *db, int rc);

// A prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3 *db, std::string_view sql);
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  Stmt(Stmt &&o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}
  Stmt &operator=(Stmt &&o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      db_ = o.db_;
      stmt_ = std::exchange(o.stmt_, nullptr);
    }
    return *this;
  }

  sqlite3_stmt *get() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

  Stmt &bind(int i, std::string_view v);
  Stmt &bind(int i, const char *v) { return v ? bind(i, std::string_view(v)) : bind_null(i); }
  Stmt &bind(int i, const std::string &v) { return bind(i, std::string_view(v)); }
  Stmt &bind(int i, int64_t v);
  Stmt &bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt &bind(int i, long long v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt &bind(int i, double v);
  Stmt &bind_null(int i);
  // Bind a JSON scalar with its own type: string, integer, real, boolean as 1/0, null.
  Stmt &bind_json(int i, const nlohmann::json &v);
  // Bind an optional text: empty optional -> NULL.
  Stmt &bind_opt(int i, const std::string *v) { return v ? bind(i, *v) : bind_null(i); }

  // Step once: true when a row is ready, false when done. Throws SqliteError on error.
  bool step();
  // Step to completion, expecting no row; returns sqlite3_changes().
  int exec();
  void reset() noexcept { sqlite3_reset(stmt_); }
  void clear() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t int64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const;
  int columns() const { return sqlite3_column_count(stmt_); }

 private:
  sqlite3 *db_ = nullptr;
  sqlite3_stmt *stmt_ = nullptr;
};

// Run SQL with no parameters and no rows (several statements allowed).
void exec(sqlite3 *db, const char *sql);

// A connection owned by the extension (worker connections); closed on destruction.
class Connection {
 public:
  Connection() = default;
  // Open path with the given VFS (nullptr: default). Throws SqliteError.
  Connection(const std::string &path, int flags, const char *vfs);
  ~Connection() { sqlite3_close_v2(db_); }
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  Connection(Connection &&o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Connection &operator=(Connection &&o) noexcept {
    if (this != &o) {
      sqlite3_close_v2(db_);
      db_ = std::exchange(o.db_, nullptr);
    }
    return *this;
  }
  sqlite3 *get() const noexcept { return db_; }

 private:
  sqlite3 *db_ = nullptr;
};

// A SAVEPOINT that rolls back on destruction unless released. Works inside or outside the
// caller's transaction, so a rejected write leaves nothing behind.
class Savepoint {
 public:
  explicit Savepoint(sqlite3 *db, const char *name = "sqlite_export");
  ~Savepoint();
  Savepoint(const Savepoint &) = delete;
  Savepoint &operator=(const Savepoint &) = delete;
  void release();

 private:
  sqlite3 *db_;
  std::string name_;
  bool done_ = false;
};

// A transaction on an extension-owned connection: BEGIN IMMEDIATE or BEGIN (deferred);
// rolled back on destruction unless committed.
class Transaction {
 public:
  Transaction(sqlite3 *db, bool immediate);
  ~Transaction();
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  void commit();

 private:
  sqlite3 *db_;
  bool done_ = false;
};

// What with_write_lock does about a shutdown that has begun.
enum class OnShutdown {
  skip,      // no try at all once it has begun
  ignore,    // go on trying until the budget is spent (the budget is short)
  try_once,  // try once, even during a shutdown, but do not retry
};

// Run body() in a write transaction (BEGIN IMMEDIATE) on an extension-owned connection and
// commit it. While another connection holds the write lock, or body throws, roll back and retry
// every 20 ms until budget has passed; shutting_down is read before each try as rule says.
// True when a transaction committed. For the worker's clean-up writes, which must not throw.
template <class Body>
bool with_write_lock(sqlite3 *db, std::chrono::steady_clock::duration budget, const std::atomic<bool> &shutting_down,
                     OnShutdown rule, Body &&body) noexcept {
  auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    if (rule == OnShutdown::skip && shutting_down.load()) return false;
    try {
      Transaction tx(db, true);
      body();
      tx.commit();
      return true;
    } catch (const std::exception &) {
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (rule == OnShutdown::try_once && shutting_down.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sqlexport
