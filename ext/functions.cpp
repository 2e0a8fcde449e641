// functions.cpp: the SQL functions of sqlite-export (SPEC sections 1, 4 and 7).
//
//   SELECT export_version();                       -- '0.1.0'
//   SELECT export_run('orders', '[]');             -- queue a run, returns its id at once
//   SELECT export_wait(export_run('orders', '[]'));-- wait until COMPLETE / FAILED / ABORTED
//   SELECT export_wait(:run, 5000);                -- or until 5 s have passed
//   SELECT export_abort(:run);                     -- 1 if aborted, 0 if it had already ended
//   SELECT export_sql('orders', :criteria);        -- {"sql": ..., "params": [...]}
//   SELECT export_count('orders', :criteria);      -- rows a run would export
//   SELECT export_purge();                         -- runs expired now
//   SELECT export_config('output_dir', '/data/out');-- read or set a setting of this connection's service
//   SELECT export_download(:file_id);              -- the file's bytes; marks it downloaded
//
// Every function that starts, stops, deletes or writes work or files is SQLITE_DIRECTONLY:
// a database's own triggers, views, CHECK and DEFAULT expressions cannot call it.
#include "functions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "criteria.h"
#include "db.h"
#include "errors.h"
#include "query.h"
#include "runs.h"
#include "schema.h"
#include "service.h"
#include "util.h"

namespace sqlexport {

using nlohmann::json;

std::string describe_error(const char *where, int *rc) noexcept {
  *rc = SQLITE_ERROR;
  try {
    try {
      throw;
    } catch (const ExportError &e) {
      return fmt::format("{}: {}: {}", where, code_name(e.code()), e.what());
    } catch (const SqliteError &e) {
      int prim = e.rc() & 0xff;
      if (prim == SQLITE_NOMEM) *rc = SQLITE_NOMEM;
      if (prim == SQLITE_INTERRUPT) *rc = SQLITE_INTERRUPT;
      const char *code = prim == SQLITE_INTERRUPT ? "interrupted"
                         : (prim == SQLITE_IOERR || prim == SQLITE_FULL) ? "io_error"
                         : (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) ? "state_conflict"
                                                                           : "internal";
      return fmt::format("{}: {}: {}", where, code, e.what());
    } catch (const std::bad_alloc &) {
      *rc = SQLITE_NOMEM;
      return "out of memory";
    } catch (const std::exception &e) {
      return fmt::format("{}: internal: {}", where, e.what());
    }
  } catch (...) {
    *rc = SQLITE_NOMEM;
    return "out of memory";
  }
}

void report_error(sqlite3_context *ctx, const char *where) noexcept {
  int rc = SQLITE_ERROR;
  std::string msg = describe_error(where, &rc);
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg.c_str(), static_cast<int>(msg.size()));
  if (rc != SQLITE_ERROR) sqlite3_result_error_code(ctx, rc);
}

namespace {

struct FnData {
  std::shared_ptr<Service> svc;
  const char *name;
};

using Impl = void (*)(sqlite3_context *, FnData &, int, sqlite3_value **);

[[noreturn]] void bad(const std::string &msg) { throw ExportError(Code::invalid_request, msg); }

std::string text_arg(sqlite3_value *v, int n, const char *what) {
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    bad(fmt::format("argument {} ({}) must be text, not {}", n, what,
                    sqlite3_value_type(v) == SQLITE_NULL ? "NULL" : "a number or blob"));
  return std::string(reinterpret_cast<const char *>(sqlite3_value_text(v)), static_cast<size_t>(sqlite3_value_bytes(v)));
}

// Criteria argument: NULL or JSON text.
json criteria_arg(sqlite3_value *v, int n) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return json();
  if (sqlite3_value_type(v) != SQLITE_TEXT) bad(fmt::format("argument {} (criteria) must be JSON text or NULL", n));
  return parse_json_text(std::string_view(reinterpret_cast<const char *>(sqlite3_value_text(v)),
                                          static_cast<size_t>(sqlite3_value_bytes(v))),
                         "criteria");
}

// Run metadata argument (export_run's third): NULL or a JSON object; requested_by a string,
// full a boolean; other keys are kept as given.
json metadata_arg(sqlite3_value *v) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return json();
  if (sqlite3_value_type(v) != SQLITE_TEXT) bad("argument 3 (metadata) must be a JSON object or NULL");
  json m = parse_json_text(std::string_view(reinterpret_cast<const char *>(sqlite3_value_text(v)),
                                            static_cast<size_t>(sqlite3_value_bytes(v))),
                           "metadata");
  if (m.is_null()) return m;
  if (!m.is_object()) bad(fmt::format("argument 3 (metadata) must be a JSON object or NULL, not {}", m.dump()));
  if (m.contains("requested_by") && !m["requested_by"].is_string())
    bad(fmt::format("metadata 'requested_by' must be a string, not {}", m["requested_by"].dump()));
  if (m.contains("full") && !m["full"].is_boolean())
    bad(fmt::format("metadata 'full' must be true or false, not {}", m["full"].dump()));
  return m;
}

Definition definition_arg(sqlite3 *db, sqlite3_value *v) {
  std::string key = text_arg(v, 1, "export id or name");
  auto def = find_definition(db, key);
  if (!def) throw ExportError(Code::not_found, fmt::format("no export with id or name '{}'", key));
  return *def;
}

void result_text(sqlite3_context *ctx, const std::string &s) {
  sqlite3_result_text64(ctx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void fn_version(sqlite3_context *ctx, FnData &, int, sqlite3_value **) { result_text(ctx, EXPORT_VERSION_STRING); }

// Plan for export_sql / export_count: like a run, but no criteria on an open definition
// means every row.
Plan preview_plan(sqlite3 *db, int argc, sqlite3_value **argv) {
  Definition def = definition_arg(db, argv[0]);
  json crit = argc > 1 ? criteria_arg(argv[1], 2) : json();
  if (def.criteria.is_null() && crit.is_null()) crit = json::array();
  return plan_run(db, def, crit, true);
}

void fn_run(sqlite3_context *ctx, FnData &d, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  if (!d.svc->shareable())
    throw ExportError(Code::not_admissible,
                      "this database is private to its connection (:memory: or a temporary database), so no worker can "
                      "read it; use a database file or a shared memdb ('file:/name?vfs=memdb')");
  Definition def = definition_arg(db, argv[0]);
  json crit = argc > 1 ? criteria_arg(argv[1], 2) : json();
  json meta = argc > 2 ? metadata_arg(argv[2]) : json();
  bool full = meta.is_object() && meta.contains("full") && meta["full"].get<bool>();
  // A pivot's column values are read by the worker in the run's snapshot, not here.
  Plan plan = plan_run(db, def, crit, true, false, full);
  if (meta.is_object() && meta.contains("full") && !plan.incremental)
    bad("metadata 'full' is only for an export with option 'incremental'");
  if (d.svc->vfs_name() == "memdb" && d.svc->config().output_dir.empty())
    throw ExportError(Code::not_admissible,
                      "an in-memory database has no default output folder; set export_config('output_dir', ...) first");
  ensure_schema(db);
  if (plan.options.exclusive) {
    Stmt busy(db, "SELECT number, status FROM main._export_runs WHERE export_id = ?1 AND status IN ('CREATED', 'RUNNING')");
    busy.bind(1, def.id);
    if (busy.step())
      throw ExportError(Code::state_conflict,
                        fmt::format("export '{}' already has run {} {}; wait for it, abort it, or set option "
                                    "'exclusive' to false",
                                    def.name, busy.int64(0), busy.text(1)));
  }
  json attach = json::object();
  {
    Stmt dbs(db, "SELECT name, file FROM pragma_database_list WHERE name NOT IN ('main', 'temp') AND file <> ''");
    while (dbs.step()) attach[dbs.text(0)] = dbs.text(1);
  }
  std::string id = new_id();
  // One statement, so one commit in autocommit mode; the trigger _export_runs_number moves the
  // definition's next_number on.
  Stmt ins(db,
           "INSERT INTO main._export_runs(id, export_id, number, status, criteria, sql, params, attach, created_at, "
           "requested_by, metadata) "
           "VALUES (?1, ?2, (SELECT next_number FROM main._export_definitions WHERE id = ?2), 'CREATED', ?4, ?5, ?6, "
           "?7, ?8, ?9, ?10)");
  ins.bind(1, id).bind(2, def.id);
  if (criteria_given(crit)) ins.bind(4, crit.dump());
  else ins.bind_null(4);
  ins.bind(5, plan.sql).bind(6, plan.params.dump()).bind(7, attach.empty() ? std::string() : attach.dump());
  if (attach.empty()) ins.bind_null(7);
  ins.bind(8, now_iso());
  if (meta.is_object() && meta.contains("requested_by")) ins.bind(9, meta["requested_by"].get<std::string>());
  else ins.bind_null(9);
  if (meta.is_object()) ins.bind(10, meta.dump(-1, ' ', false, json::error_handler_t::replace));
  else ins.bind_null(10);
  // The result is allocated before the run is stored, so that running out of memory cannot
  // report an error for a run that exists.
  char *result = sqlite3_mprintf("%s", id.c_str());
  if (!result) throw SqliteError(SQLITE_NOMEM, "out of memory");
  sqlite3_result_text(ctx, result, -1, sqlite3_free);
  ins.exec();
  wake_workers();
}

bool is_final(const std::string &status) {
  return status == "COMPLETE" || status == "FAILED" || status == "ABORTED" || status == "DOWNLOADED" ||
         status == "EXPIRED";
}

void fn_wait(sqlite3_context *ctx, FnData &d, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  std::string id = text_arg(argv[0], 1, "run id");
  int64_t timeout_ms = -1;
  if (argc > 1) {
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 0)
      bad("argument 2 (timeout_ms) must be an integer >= 0");
    timeout_ms = sqlite3_value_int64(argv[1]);
  }
  // The caller's own transaction would hide the worker's progress (and in rollback-journal
  // mode its lock would stop the worker from recording it), so status is read through the
  // service's own connection, which also has a busy timeout the caller's may lack. The
  // caller's connection is read only when the run is not (yet) committed.
  bool in_txn = sqlite3_txn_state(db, nullptr) != SQLITE_TXN_NONE;
  bool committed_first = false;
  if (d.svc->shareable() && !in_txn) {
    for (int tries = 0; tries < 500; ++tries) {
      try {
        committed_first = d.svc->committed_status(id).has_value();
        break;
      } catch (const SqliteError &e) {
        int prim = e.rc() & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || tries == 499) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  if (!committed_first) {
    if (!schema_exists(db)) throw ExportError(Code::not_found, fmt::format("no run with id '{}'", id));
    Stmt q(db, "SELECT status FROM main._export_runs WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) throw ExportError(Code::not_found, fmt::format("no run with id '{}'", id));
    if (!d.svc->shareable() || is_final(q.text(0))) {  // nothing else can ever change it
      result_text(ctx, q.text(0));
      return;
    }
    if (in_txn) {
      Stmt jm(db, "PRAGMA main.journal_mode");
      if (!jm.step() || sqlite3_stricmp(jm.text(0).c_str(), "wal") != 0)
        throw ExportError(Code::state_conflict,
                          "cannot wait inside a transaction in rollback-journal mode: the transaction's lock keeps the "
                          "worker from finishing; COMMIT first, or use PRAGMA journal_mode = WAL");
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  auto pause = std::chrono::milliseconds(1);
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<std::string> committed;
    try {
      committed = d.svc->committed_status(id);
    } catch (const SqliteError &e) {
      // A writer is committing (rollback-journal mode locks readers out briefly): look again.
      int prim = e.rc() & 0xff;
      if (prim != SQLITE_BUSY && prim != SQLITE_LOCKED) throw;
      if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (!committed && in_txn)
      throw ExportError(Code::state_conflict,
                        "the run is not committed yet, so no worker can start it; COMMIT the transaction that "
                        "requested it, then wait");
    if (!committed) throw ExportError(Code::not_found, fmt::format("run '{}' was deleted while waiting for it", id));
    std::string status = *committed;
    if (is_final(status) || (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)) {
      result_text(ctx, status);
      return;
    }
    std::this_thread::sleep_for(pause);
    // Look every few milliseconds for the first seconds (a short run's end is seen at once),
    // then every 25 ms at most.
    auto cap = std::chrono::steady_clock::now() - started < std::chrono::seconds(3) ? std::chrono::milliseconds(4)
                                                                                     : std::chrono::milliseconds(25);
    pause = std::min(pause * 2, cap);
  }
}

void fn_abort(sqlite3_context *ctx, FnData &, int, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  std::string id = text_arg(argv[0], 1, "run id");
  int n = abort_run(db, id);
  wake_workers();
  sqlite3_result_int(ctx, n);
}

void fn_sql(sqlite3_context *ctx, FnData &, int argc, sqlite3_value **argv) {
  Plan plan = preview_plan(sqlite3_context_db_handle(ctx), argc, argv);
  // replace: a pivot's params hold the data's values, which may be invalid UTF-8 text
  result_text(ctx, json{{"sql", plan.sql}, {"params", plan.params}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

void fn_count(sqlite3_context *ctx, FnData &, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  Plan plan = preview_plan(db, argc, argv);
  Stmt s(db, plan.count_sql);
  bind_params(s, plan.params);
  s.step();
  sqlite3_result_int64(ctx, s.int64(0));
}

void fn_purge(sqlite3_context *ctx, FnData &d, int, sqlite3_value **) {
  sqlite3_result_int64(ctx, purge_expired(sqlite3_context_db_handle(ctx), d.svc->config().output_dir));
}

void fn_config(sqlite3_context *ctx, FnData &d, int argc, sqlite3_value **argv) {
  std::string key = text_arg(argv[0], 1, "setting");
  bool set = argc > 1;
  if (key == "output_dir") {
    if (set) {
      std::string dir = text_arg(argv[1], 2, "output_dir");
      if (dir.empty()) bad("output_dir must not be empty");
      if (dir.find('\0') != std::string::npos) bad("output_dir must not contain a NUL character");
      d.svc->set_output_dir(dir);
    }
    std::string dir = d.svc->config().output_dir;
    if (dir.empty()) sqlite3_result_null(ctx);
    else result_text(ctx, dir);
  } else if (key == "workers") {
    if (set) {
      if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 0 ||
          sqlite3_value_int64(argv[1]) > 64)
        bad("workers must be an integer from 0 to 64");
      d.svc->set_workers(static_cast<int>(sqlite3_value_int64(argv[1])));
    }
    sqlite3_result_int(ctx, d.svc->workers());
  } else if (key == "lease_ms") {
    if (set) {
      if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 100 ||
          sqlite3_value_int64(argv[1]) > 86400000)
        bad("lease_ms must be an integer from 100 to 86400000");
      d.svc->set_lease_ms(sqlite3_value_int64(argv[1]));
    }
    sqlite3_result_int64(ctx, d.svc->config().lease_ms);
  } else if (key == "parallel") {
    if (set) {
      if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 1 ||
          sqlite3_value_int64(argv[1]) > 16)
        bad("parallel must be an integer from 1 to 16");
      d.svc->set_parallel(static_cast<int>(sqlite3_value_int64(argv[1])));
    }
    sqlite3_result_int(ctx, d.svc->config().parallel);
  } else if (key == "clock_offset_ms") {
    // A test hook (docs/REFERENCE.md): shifts the clock of schedules for the whole process.
    if (set) {
      if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < -(int64_t{1} << 50) ||
          sqlite3_value_int64(argv[1]) > (int64_t{1} << 50))
        bad("clock_offset_ms must be an integer (milliseconds)");
      set_clock_offset_ms(sqlite3_value_int64(argv[1]));
      wake_workers();
    }
    sqlite3_result_int64(ctx, clock_offset_ms());
  } else {
    bad(fmt::format("unknown setting '{}'; settings are output_dir, workers, parallel, lease_ms", key));
  }
}

void fn_download(sqlite3_context *ctx, FnData &d, int, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  std::string id = text_arg(argv[0], 1, "file id");
  if (!schema_exists(db)) throw ExportError(Code::not_found, fmt::format("no file with id '{}'", id));
  Stmt q(db,
         "SELECT f.path, f.size_bytes, f.run_id, r.status FROM main._export_files f JOIN main._export_runs r "
         "ON r.id = f.run_id WHERE f.id = ?1");
  q.bind(1, id);
  if (!q.step()) throw ExportError(Code::not_found, fmt::format("no file with id '{}'", id));
  std::string path = q.text(0), run_id = q.text(2), status = q.text(3);
  int64_t size = q.int64(1);
  q.reset();
  if (status == "EXPIRED") throw ExportError(Code::not_found, "the file has expired and was deleted");
  if (status == "CREATED" || status == "RUNNING" || status == "FAILED" || status == "ABORTED")  // hidden in export_files
    throw ExportError(Code::not_found, fmt::format("no file with id '{}'", id));
  std::string out = d.svc->config().output_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  auto slash = path.rfind('/');
  if (out.empty() || slash == std::string::npos || path.substr(0, slash) != out)
    throw ExportError(Code::not_admissible,
                      fmt::format("file '{}' is not in this connection's output folder '{}'", path, out));
  if (size > sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1))
    throw ExportError(Code::not_admissible,
                      fmt::format("file '{}' has {} bytes, more than SQLite's length limit for one value", path, size));
  int dfd = open(out.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) throw ExportError(Code::io_error, fmt::format("open '{}': {}", out, error_text(errno)));
  int fd = openat(dfd, path.c_str() + slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int err = errno;
  close(dfd);
  if (fd < 0) throw ExportError(Code::io_error, fmt::format("open '{}': {}", path, error_text(err)));
  std::string bytes;
  bytes.resize(static_cast<size_t>(size));
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  err = errno;
  close(fd);
  if (got != bytes.size())
    throw ExportError(Code::io_error, fmt::format("read '{}': {}", path, got < bytes.size() ? "file is shorter than recorded" : error_text(err)));
  Stmt mark(db, "UPDATE main._export_files SET downloaded_at = ?2 WHERE id = ?1 AND downloaded_at IS NULL");
  mark.bind(1, id).bind(2, now_iso());
  mark.exec();
  Stmt done(db,
            "UPDATE main._export_runs SET status = 'DOWNLOADED' WHERE id = ?1 AND status = 'COMPLETE' AND NOT EXISTS "
            "(SELECT 1 FROM main._export_files WHERE run_id = ?1 AND downloaded_at IS NULL)");
  done.bind(1, run_id);
  done.exec();
  sqlite3_result_blob64(ctx, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Whether a statement running on db names the function in its text. SQLITE_DIRECTONLY keeps
// triggers, views, DEFAULT expressions, generated columns and indexes from calling a function,
// but SQLite 3.40 does not apply it to CHECK constraints. A direct call is written in the text
// of a statement the application runs; a call from the schema is not.
bool named_by_running_statement(sqlite3 *db, const char *name) {
  size_t n = std::strlen(name);
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, nullptr); s; s = sqlite3_next_stmt(db, s)) {
    if (!sqlite3_stmt_busy(s)) continue;
    const char *sql = sqlite3_sql(s);
    if (!sql) continue;
    // String literals and comments do not call anything: skip them.
    for (const char *p = sql; *p; ++p) {
      if (*p == '\'') {
        for (++p; *p && !(*p == '\'' && p[1] != '\''); ++p)
          if (*p == '\'') ++p;  // '' inside a literal
        if (!*p) break;
        continue;
      }
      if (p[0] == '-' && p[1] == '-') {
        while (*p && *p != '\n') ++p;
        if (!*p) break;
        continue;
      }
      if (p[0] == '/' && p[1] == '*') {
        const char *e = std::strstr(p + 2, "*/");
        if (!e) break;
        p = e + 1;
        continue;
      }
      if (sqlite3_strnicmp(p, name, static_cast<int>(n)) == 0 && (p == sql || !ident_char(p[-1])) && !ident_char(p[n]))
        return true;
    }
  }
  return false;
}

template <Impl F, bool Direct = false>
void call(sqlite3_context *ctx, int argc, sqlite3_value **argv) noexcept {
  auto *d = static_cast<FnData *>(sqlite3_user_data(ctx));
  try {
    if (Direct && !named_by_running_statement(sqlite3_context_db_handle(ctx), d->name))
      throw ExportError(Code::not_admissible,
                        fmt::format("{} may only be called by a statement that names it, not from the database's "
                                    "schema (a CHECK constraint, trigger, view or default)",
                                    d->name));
    F(ctx, *d, argc, argv);
  } catch (...) {
    report_error(ctx, d->name);
  }
}

struct FunctionSpec {
  const char *name;
  int nargs;  // -1: see min/max below
  int min_args, max_args;
  int flags;
  void (*fn)(sqlite3_context *, int, sqlite3_value **);
};

constexpr int kUtf8 = SQLITE_UTF8;
constexpr int kDirect = SQLITE_UTF8 | SQLITE_DIRECTONLY;

const FunctionSpec kFunctions[] = {
    {"export_version", 0, 0, 0, kUtf8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, call<fn_version>},
    {"export_run", -1, 1, 3, kDirect, call<fn_run, true>},
    {"export_wait", -1, 1, 2, kDirect, call<fn_wait, true>},
    {"export_abort", 1, 1, 1, kDirect, call<fn_abort, true>},
    {"export_sql", -1, 1, 2, kUtf8, call<fn_sql>},
    {"export_count", -1, 1, 2, kUtf8, call<fn_count>},
    {"export_purge", 0, 0, 0, kDirect, call<fn_purge, true>},
    {"export_config", -1, 1, 2, kDirect, call<fn_config, true>},
    {"export_download", 1, 1, 1, kDirect, call<fn_download, true>},
};

void destroy_data(void *p) { delete static_cast<FnData *>(p); }

}  // namespace

int register_functions(sqlite3 *db, const std::shared_ptr<Service> &svc, char **err) {
  for (const auto &f : kFunctions) {
    for (int n = f.min_args; n <= f.max_args; ++n) {
      auto *data = new (std::nothrow) FnData{svc, f.name};
      if (!data) return SQLITE_NOMEM;
      // On failure SQLite calls destroy_data itself: the data must not be freed again here.
      int rc = sqlite3_create_function_v2(db, f.name, n, f.flags, data, f.fn, nullptr, nullptr, destroy_data);
      if (rc != SQLITE_OK) {
        if (err) *err = sqlite3_mprintf("sqlite-export: cannot register function %s: %s", f.name, sqlite3_errmsg(db));
        return rc;
      }
    }
  }
  return SQLITE_OK;
}

}  // namespace sqlexport
