// db.cpp: RAII wrappers over SQLite handles.
#include "db.h"

#include "util.h"

namespace sqlexport {

void throw_sqlite(sqlite3 *db, int rc) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // For I/O errors, say what the system said (e.g. "File too large" of a temporary file).
  int prim = rc & 0xff;
  if (db && (prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN) && sqlite3_system_errno(db) != 0)
    msg += std::string(" (") + error_text(sqlite3_system_errno(db)) + ")";
  throw SqliteError(rc, msg);
}

Stmt::Stmt(sqlite3 *db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_sqlite(db, rc);
}

Stmt &Stmt::bind(int i, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc);
  return *this;
}

Stmt &Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc);
  return *this;
}

Stmt &Stmt::bind(int i, double v) {
  int rc = sqlite3_bind_double(stmt_, i, v);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc);
  return *this;
}

Stmt &Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc);
  return *this;
}

Stmt &Stmt::bind_json(int i, const nlohmann::json &v) {
  switch (v.type()) {
    case nlohmann::json::value_t::string: return bind(i, v.get_ref<const std::string &>());
    case nlohmann::json::value_t::number_integer: return bind(i, v.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return bind(i, static_cast<double>(u));
      return bind(i, static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return bind(i, v.get<double>());
    case nlohmann::json::value_t::boolean: return bind(i, static_cast<int64_t>(v.get<bool>() ? 1 : 0));
    case nlohmann::json::value_t::null: return bind_null(i);
    default: return bind(i, v.dump());
  }
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite(db_, rc);
}

int Stmt::exec() {
  while (step()) {
  }
  return sqlite3_changes(db_);
}

std::string Stmt::text(int c) const {
  const unsigned char *p = sqlite3_column_text(stmt_, c);
  if (!p) return {};
  return std::string(reinterpret_cast<const char *>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, c)));
}

void exec(sqlite3 *db, const char *sql) {
  char *err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, msg);
  }
}

Connection::Connection(const std::string &path, int flags, const char *vfs) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(rc, msg);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Savepoint::Savepoint(sqlite3 *db, const char *name) : db_(db), name_(name) {
  exec(db_, ("SAVEPOINT " + name_).c_str());
}

Savepoint::~Savepoint() {
  if (done_) return;
  std::string sql = "ROLLBACK TO " + name_ + "; RELEASE " + name_;
  sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

void Savepoint::release() {
  exec(db_, ("RELEASE " + name_).c_str());
  done_ = true;
}

Transaction::Transaction(sqlite3 *db, bool immediate) : db_(db) {
  exec(db_, immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, "COMMIT");
  done_ = true;
}

}  // namespace sqlexport
