// worker.cpp: the worker thread's loop: wait for work, claim a run, start its snapshot, hand it
// to a RunExecutor (executor.h); sweep expired runs and leftover files; the Worker that owns the
// thread.
//
// Life of a run on a worker (see docs/DESIGN.md for the whole picture; steps 4 and 5 are the
// executor's):
//   1. Wait for work: PRAGMA data_version on the control connection tells cheaply whether
//      another connection committed; wake_workers() makes this process's workers look at once.
//   2. Claim in one BEGIN IMMEDIATE transaction on the control connection: the oldest CREATED
//      run, or a RUNNING run whose lease expired (its worker died). The claim bumps
//      lease_token (the fencing token) and sets lease_until.
//   3. Snapshot: in WAL mode the reader starts its read transaction while the claim still holds
//      the write lock, so it sees exactly the state at the claim. In rollback-journal mode that
//      would deadlock (the claim's COMMIT waits for the reader's SHARED lock), so the reader
//      starts right after the claim commits.
//   4. Export: rows are stepped and formatted into temporary files. Every ~500 ms a heartbeat
//      (from the row loop, and from the reader's progress handler while SQLite works inside one
//      step) extends the lease and publishes rows_written / bytes_written / progress, fenced by
//      the token; a heartbeat that changes nothing means the run was aborted or taken over,
//      and the export stops.
//   5. Finish: one BEGIN IMMEDIATE transaction checks the token, renames the files into place,
//      records them and marks the run COMPLETE. A failure marks it FAILED (fenced) and removes
//      its temporary files; a shutdown puts it back to CREATED.
#include "worker.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "db.h"
#include "errors.h"
#include "executor.h"
#include "output.h"
#include "query.h"
#include "runs.h"
#include "schema.h"
#include "service.h"
#include "util.h"
#include "worker_thread.h"

namespace sqlexport {

using nlohmann::json;

namespace {

struct Wake {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t generation = 0;
};
Wake &wake() {
  static Wake *w = new Wake;  // leaked: workers may still wait on it during exit
  return *w;
}

thread_local bool t_opening_internal = false;

}  // namespace

Connection open_internal(const Service &svc, bool read_only) {
  t_opening_internal = true;
  struct Reset {
    ~Reset() { t_opening_internal = false; }
  } reset;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  std::string path = svc.db_path();
  Connection c(path, flags, svc.vfs_name().empty() ? nullptr : svc.vfs_name().c_str());
  return c;
}

namespace {

constexpr int kStartDelayMs = 500;
constexpr auto kIdlePoll = std::chrono::milliseconds(200);
constexpr auto kFastPoll = std::chrono::milliseconds(5);
constexpr auto kFastWindow = std::chrono::seconds(2);
constexpr auto kRescanEvery = std::chrono::seconds(1);
constexpr auto kSweepEvery = std::chrono::seconds(30);

}  // namespace

bool WorkerThread::wait_for(std::chrono::milliseconds d, uint64_t &seen_gen) {
  Wake &w = wake();
  std::unique_lock<std::mutex> lock(w.mu);
  w.cv.wait_for(lock, d, [&] { return stop_.load() || w.generation != seen_gen; });
  bool woken = w.generation != seen_gen;
  seen_gen = w.generation;
  return woken;
}

bool WorkerThread::open() {
  try {
    control_ = open_internal(svc_, false);
    reader_ = open_internal(svc_, false);
    sqlite3_busy_timeout(control_.get(), 100);
    sqlite3_busy_timeout(reader_.get(), 1000);
    exec(reader_.get(), "PRAGMA query_only = ON");
    Stmt jm(control_.get(), "PRAGMA main.journal_mode");
    wal_ = jm.step() && sqlite3_stricmp(jm.text(0).c_str(), "wal") == 0;
    owner_ = fmt::format("pid:{}:worker:{}", static_cast<long>(getpid()), index_);
    return true;
  } catch (const std::exception &) {
    control_ = Connection();
    reader_ = Connection();
    return false;
  }
}

int64_t WorkerThread::data_version() {
  Stmt s(control_.get(), "PRAGMA main.data_version");
  return s.step() ? s.int64(0) : 0;
}

bool WorkerThread::work_available() {
  if (!schema_ready_) {
    schema_ready_ = schema_exists(control_.get());
    if (!schema_ready_) return false;
  }
  Stmt s(control_.get(),
         "SELECT 1 FROM main._export_runs WHERE status = 'CREATED' OR (status = 'RUNNING' AND lease_until < ?1) LIMIT 1");
  s.bind(1, now_ms());
  return s.step();
}

void WorkerThread::attach_for(const json &attach) {
  for (const auto &name : attached_) {
    try {
      Stmt d(reader_.get(), "DETACH DATABASE ?1");
      d.bind(1, name);
      d.exec();
    } catch (const std::exception &) {
    }
  }
  attached_.clear();
  if (!attach.is_object()) return;
  for (auto it = attach.begin(); it != attach.end(); ++it) {
    if (!it.value().is_string()) continue;
    Stmt a(reader_.get(), "ATTACH DATABASE ?1 AS ?2");
    a.bind(1, it.value().get<std::string>()).bind(2, it.key());
    a.exec();
    attached_.push_back(it.key());
  }
}

void WorkerThread::remove_dead_temporaries(const std::string &output_dir, const std::string &run_id,
                                           int64_t token) noexcept {
  try {
    if (access(output_dir.c_str(), F_OK) != 0) return;
    OutputDir dir(output_dir);
    std::string prefix = run_id + "-";
    dir.remove_temporaries([&](const std::string &tag) {
      if (tag.compare(0, prefix.size(), prefix) != 0) return false;
      return std::atoll(tag.c_str() + prefix.size()) < token;  // an earlier attempt's
    });
  } catch (const std::exception &) {
    // The sweep removes them later.
  }
}

void WorkerThread::sweep() noexcept {
  try {
    if (!schema_ready_) return;
    ServiceConfig cfg = svc_.config();
    if (cfg.output_dir.empty()) return;
    // Take the write lock only when there is something to do: applications without a busy
    // timeout then never meet an idle worker's lock.
    bool work = false;
    {
      Stmt q(control_.get(),
             "SELECT EXISTS (SELECT 1 FROM main._export_runs WHERE status IN ('COMPLETE', 'DOWNLOADED') AND "
             "expires_at IS NOT NULL AND expires_at <= ?1) OR EXISTS (SELECT 1 FROM main._export_files f JOIN "
             "main._export_runs r ON r.id = f.run_id WHERE r.status IN ('FAILED', 'ABORTED'))");
      q.bind(1, now_iso());
      work = q.step() && q.int64(0) != 0;
    }
    if (work) {
      sync_for_journal_mode();
      Transaction tx(control_.get(), true);
      purge_expired(control_.get(), cfg.output_dir);
      clear_dead_runs(control_.get(), cfg.output_dir);
      tx.commit();
    }
    // Temporary files of attempts that no longer own their run are leftovers. Those of a RUNNING
    // attempt whose lease expired are left to the rescue of the run, which removes them (and
    // reads the requeue marker of a clean shutdown first).
    if (access(cfg.output_dir.c_str(), F_OK) != 0) return;
    OutputDir dir(cfg.output_dir);
    Stmt live(control_.get(),
              "SELECT 1 FROM main._export_runs WHERE id || '-' || lease_token = ?1 AND status = 'RUNNING'");
    dir.remove_temporaries([&](const std::string &tag) {
      try {
        live.reset();
        live.bind(1, tag);
        return !live.step();
      } catch (const std::exception &) {
        return false;
      }
    });
  } catch (const std::exception &) {
    // A sweep that cannot run now runs at the next interval.
  }
}

// Read the journal mode (it may have changed since the worker opened its connections: scripts
// set WAL after loading the extension) and set the control connection's synchronous for it.
// In WAL mode, claims, heartbeats and the sweep need not survive a power loss (a run would be
// claimed again, a sweep redone), so they do not sync: the write lock is held for
// microseconds, not for an fsync. finish() syncs its own commits. Rollback-journal mode keeps
// FULL (NORMAL is unsafe there). Called outside any transaction: SQLite refuses to change
// synchronous inside one.
void WorkerThread::sync_for_journal_mode() {
  sqlite3 *c = control_.get();
  {
    Stmt jm(c, "PRAGMA main.journal_mode");
    wal_ = jm.step() && sqlite3_stricmp(jm.text(0).c_str(), "wal") == 0;
  }
  exec(c, wal_ ? "PRAGMA main.synchronous = NORMAL" : "PRAGMA main.synchronous = FULL");
}

bool WorkerThread::claim_and_run() {
  sqlite3 *c = control_.get();
  sync_for_journal_mode();
  std::optional<Transaction> tx;
  try {
    tx.emplace(c, true);
  } catch (const SqliteError &) {
    return false;  // busy: try again at the next poll
  }
  ServiceConfig cfg = svc_.config();
  int64_t now = now_ms();
  Stmt pick(c,
            "SELECT r.id, r.lease_token, r.number, r.attempts, r.status, r.criteria, r.attach, d.id, r.metadata "
            "FROM main._export_runs r LEFT JOIN main._export_definitions d ON d.id = r.export_id "
            "WHERE r.status = 'CREATED' OR (r.status = 'RUNNING' AND r.lease_until < ?1) ORDER BY r.rowid LIMIT 1");
  pick.bind(1, now);
  if (!pick.step()) {
    tx->commit();
    return false;
  }
  ClaimedRun run;
  run.id = pick.text(0);
  run.token = pick.int64(1) + 1;
  run.number = pick.int64(2);
  run.attempts = pick.int64(3) + 1;
  bool rescued = pick.text(4) == "RUNNING";
  // An attempt that ended with a clean shutdown but could not requeue the run left a marker:
  // it does not count as interrupted.
  if (rescued && !cfg.output_dir.empty() && access(cfg.output_dir.c_str(), F_OK) == 0) {
    try {
      OutputDir dir(cfg.output_dir);
      if (dir.take_marker(requeue_marker(run.id, run.token - 1))) run.attempts -= 1;
    } catch (const std::exception &) {
    }
  }
  std::string def_id = pick.is_null(7) ? "" : pick.text(7);
  std::string failure;
  try {
    run.criteria = pick.is_null(5) ? json() : parse_json_text(pick.text(5), "criteria");
    run.attach = pick.is_null(6) ? json() : parse_json_text(pick.text(6), "attach");
    json meta = pick.is_null(8) ? json() : parse_json_text(pick.text(8), "metadata");
    run.full = meta.is_object() && meta.contains("full") && meta["full"].is_boolean() && meta["full"].get<bool>();
  } catch (const ExportError &e) {
    failure = e.reason();
  }
  pick.reset();
  if (def_id.empty()) failure = "not_found: the run's export definition no longer exists";
  if (failure.empty() && rescued && run.attempts > cfg.max_attempts)
    failure = fmt::format("internal: the run was interrupted {} times (its worker stopped renewing its lease); giving up",
                          run.attempts - 1);
  if (failure.empty()) {
    try {
      auto def = find_definition(c, def_id);
      if (!def) throw ExportError(Code::not_found, "the run's export definition no longer exists");
      run.def = *def;
      attach_for(run.attach);
    } catch (const ExportError &e) {
      failure = e.reason();
    } catch (const SqliteError &e) {
      failure = fmt::format("internal: cannot attach the run's databases: {}", e.what());
    }
  }
  // A rescued run's dead attempt may have left recorded files and temporary files: remove them
  // now, whether the run is tried again or given up.
  if (rescued && !cfg.output_dir.empty()) {
    clear_run_files(c, run.id, cfg.output_dir);
    remove_dead_temporaries(cfg.output_dir, run.id, run.token);
  }
  if (!failure.empty()) {
    Stmt f(c,
           "UPDATE main._export_runs SET status = 'FAILED', failure_reason = ?2, finished_at = ?3, lease_owner = NULL, "
           "lease_until = NULL, lease_token = lease_token + 1 WHERE id = ?1");
    f.bind(1, run.id).bind(2, failure).bind(3, now_iso());
    f.exec();
    tx->commit();
    return true;
  }
  Stmt claim(c,
             "UPDATE main._export_runs SET status = 'RUNNING', lease_token = ?2, lease_owner = ?3, lease_until = ?4, "
             "attempts = ?5, started_at = ?6, rows_written = 0, bytes_written = 0, progress = 0 WHERE id = ?1");
  claim.bind(1, run.id).bind(2, run.token).bind(3, owner_).bind(4, now + cfg.lease_ms).bind(5, run.attempts);
  claim.bind(6, iso_time(now));
  claim.exec();
  sqlite3 *r = reader_.get();
  extra_active_ = 0;
  // Whatever fails from here on, no reader may stay in a transaction: the worker would never
  // see another commit.
  struct ReaderGuard {
    WorkerThread *w;
    bool armed = true;
    ~ReaderGuard() {
      if (!armed) return;
      sqlite3_exec(w->reader_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      for (int i = 0; i < w->extra_active_; ++i)
        sqlite3_exec(w->extra_[static_cast<size_t>(i)].get(), "ROLLBACK", nullptr, nullptr, nullptr);
      w->extra_active_ = 0;
    }
  } reader_guard{this};

  if (wal_) {
    // Start the snapshot while the write lock is held: it is the state at the claim. Extra
    // readers start theirs in the same window, so all of them see the same state.
    exec(r, "BEGIN");
    exec(r, "SELECT count(*) FROM main.sqlite_schema");
    int want = cfg.parallel - 1;
    if (want > 0 && run.attach.empty()) {
      try {
        while (static_cast<int>(extra_.size()) < want) {
          extra_.push_back(open_internal(svc_, false));
          exec(extra_.back().get(), "PRAGMA query_only = ON");
        }
        for (int i = 0; i < want; ++i) {
          exec(extra_[static_cast<size_t>(i)].get(), "BEGIN");
          exec(extra_[static_cast<size_t>(i)].get(), "SELECT count(*) FROM main.sqlite_schema");
          extra_active_ = i + 1;
        }
      } catch (const std::exception &) {
        // Fewer readers than asked: the run goes on with those that hold the snapshot.
      }
    }
    tx->commit();
  } else {
    tx->commit();
    exec(r, "BEGIN");
    exec(r, "SELECT count(*) FROM main.sqlite_schema");
  }
  RunExecutor ex(*this, std::move(run));
  ex.execute();
  return true;  // reader_guard ends every read transaction
}

void WorkerThread::run() noexcept {
  uint64_t seen_gen = 0;
  {
    std::lock_guard<std::mutex> lock(wake().mu);
    seen_gen = wake().generation;
  }
  // Leave the database alone for a moment after loading, unless work is requested in this
  // process: scripts often change the journal mode right after `.load`, which needs the file
  // to themselves.
  wait_for(std::chrono::milliseconds(kStartDelayMs), seen_gen);
  while (!stop_.load() && !open()) wait_for(std::chrono::milliseconds(1000), seen_gen);
  if (stop_.load()) return;
  int64_t last_version = -1;
  auto last_scan = Clock::now() - kRescanEvery;
  auto last_sweep = Clock::now() - kSweepEvery + std::chrono::seconds(1);
  auto last_schedule = Clock::now() - kScheduleEvery;
  auto fast_until = Clock::now();
  while (!stop_.load()) {
    try {
      auto now = Clock::now();
      int64_t version = data_version();
      if (version != last_version || now - last_scan >= kRescanEvery) {
        last_version = version;
        last_scan = now;
        while (!stop_.load() && work_available() && claim_and_run()) fast_until = Clock::now() + kFastWindow;
      }
      if (now - last_schedule >= kScheduleEvery) {
        last_schedule = now;
        enqueue_due();
      }
      if (now - last_sweep >= kSweepEvery) {
        last_sweep = now;
        sweep();
      }
    } catch (const std::exception &) {
      // A transient failure (busy, I/O): look again at the next poll.
    }
    auto wait = Clock::now() < fast_until ? kFastPoll : kIdlePoll;
    if (wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait), seen_gen))
      fast_until = Clock::now() + kFastWindow;
  }
}

void wake_workers() noexcept {
  Wake &w = wake();
  {
    std::lock_guard<std::mutex> lock(w.mu);
    ++w.generation;
  }
  w.cv.notify_all();
}

bool opening_internal_connection() noexcept { return t_opening_internal; }

Worker::Worker(Service &service, int index) : service_(service), index_(index) {
  thread_ = std::thread([this] { main(); });
}

Worker::~Worker() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::request_stop() noexcept {
  stop_.store(true);
  wake_workers();
}

void Worker::main() noexcept {
  WorkerThread w(service_, index_, stop_);
  w.run();
}

}  // namespace sqlexport

