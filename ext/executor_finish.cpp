// executor_finish.cpp: the end of a run: finish() records and publishes its files and marks it
// COMPLETE; fail() and requeue() end it otherwise; and the clean-up of files a failed attempt
// had published (see executor.h).
#include <algorithm>

#include <fmt/format.h>

#include "db.h"
#include "executor.h"
#include "output.h"
#include "query.h"
#include "runs.h"
#include "service.h"
#include "util.h"

namespace sqlexport {

using nlohmann::json;

// Finishing takes two write transactions, so that every final file is recorded before it
// exists: (1) check the lease, record the files (the run stays RUNNING), COMMIT; then rename
// the files into place; (2) check the lease again, mark the run COMPLETE, COMMIT. A process
// killed between the two leaves a RUNNING run whose recorded files the rescue (or, once the
// run is FAILED or ABORTED, the sweep) deletes: no final file is ever left unrecorded.
void RunExecutor::finish(OutputDir &dir, std::vector<std::unique_ptr<OutputFile>> &files,
                         const std::vector<int64_t> &part_rows, const Plan &plan, int64_t rows) {
  sqlite3 *c = w_.control_.get();
  auto deadline = Clock::now() + std::chrono::seconds(30);
  // The files' records and the run's COMPLETE are durable when finish() returns.
  exec(c, "PRAGMA main.synchronous = FULL");
  struct Restore {
    sqlite3 *c;
    bool wal;
    ~Restore() {
      if (wal) sqlite3_exec(c, "PRAGMA main.synchronous = NORMAL", nullptr, nullptr, nullptr);
    }
  } restore{c, w_.wal_};
  // Take the write lock, retrying while someone else holds it (bounded; checks for shutdown).
  auto begin = [&](std::optional<Transaction> &tx) {
    while (!tx) {
      try {
        tx.emplace(c, true);
      } catch (const SqliteError &) {
        check_stop();
        if (Clock::now() > deadline)
          throw ExportError(Code::internal, "could not take the write lock to finish the run");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  };
  auto check_lease = [&]() {
    Stmt q(c, "SELECT status, lease_token FROM main._export_runs WHERE id = ?1");
    q.bind(1, run_.id);
    if (!q.step()) stop_ = Stop::aborted;
    else if (q.text(0) == "ABORTED") stop_ = Stop::aborted;
    else if (q.text(0) != "RUNNING" || q.int64(1) != run_.token) stop_ = Stop::lost;
    if (stop_ != Stop::none) throw ExportError(Code::interrupted, "the run was aborted or taken over");
  };
  // COMMIT may meet readers (rollback-journal mode): a busy COMMIT leaves the transaction
  // open and can be retried, so retry it (bounded) rather than fail a finished export.
  auto commit = [&](std::optional<Transaction> &tx) {
    for (;;) {
      try {
        tx->commit();
        return;
      } catch (const SqliteError &e) {
        int prim = e.rc() & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || Clock::now() > deadline) throw;
        check_stop();  // a shutdown does not wait for another connection's lock
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  };
  int64_t finished = now_ms();
  std::string finished_at = iso_time(finished);
  std::string expires_at = iso_time(finished + plan.options.expires_days * 86400LL * 1000LL);
  uint64_t total_bytes = 0;
  {
    std::optional<Transaction> tx;
    begin(tx);
    check_lease();
    {
      // The renames come next: renew the lease so that it cannot expire in between.
      Stmt renew(c, "UPDATE main._export_runs SET lease_until = ?3 WHERE id = ?1 AND lease_token = ?2");
      renew.bind(1, run_.id).bind(2, run_.token).bind(3, now_ms() + w_.svc_.config().lease_ms);
      if (renew.exec() == 0) {
        stop_ = Stop::lost;
        throw ExportError(Code::interrupted, "the run was taken over");
      }
    }
    // Files recorded by an earlier attempt that died before completing (normally none).
    clear_run_files(c, run_.id, dir.path());
    Stmt ins(c,
             "INSERT INTO main._export_files(id, run_id, part, path, format, compression, size_bytes, row_count, "
             "sha256, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    for (size_t i = 0; i < files.size(); ++i) {
      OutputFile &f = *files[i];
      total_bytes += f.size_bytes();
      ins.clear();
      ins.bind(1, new_id()).bind(2, run_.id).bind(3, static_cast<int64_t>(i + 1)).bind(4, dir.full_path(f.final_name()));
      ins.bind(5, format_name(run_.def.format))
          .bind(6, compression_name(plan.options.compression));
      ins.bind(7, static_cast<int64_t>(f.size_bytes())).bind(8, part_rows[i]).bind(9, f.sha256_hex());
      ins.bind(10, finished_at).bind(11, expires_at);
      ins.exec();
    }
    commit(tx);
  }
  recorded_ = true;
  for (auto &f : files) {
    published_.push_back(f->final_name());
    f->publish(false);  // on failure the name is removed by remove_published(), if still ours
  }
  std::optional<Transaction> tx;
  begin(tx);
  check_lease();
  Stmt up(c,
          "UPDATE main._export_runs SET status = 'COMPLETE', finished_at = ?3, expires_at = ?4, rows_matched = ?5, "
          "rows_written = ?5, bytes_written = ?6, file_count = ?7, progress = 1.0, lease_until = NULL, "
          "sql = ?8, params = ?9, watermark_from = ?10, watermark_to = ?11 WHERE id = ?1 AND lease_token = ?2");
  up.bind(1, run_.id).bind(2, run_.token).bind(3, finished_at).bind(4, expires_at).bind(5, rows);
  up.bind(6, static_cast<int64_t>(total_bytes)).bind(7, static_cast<int64_t>(files.size()));
  // The SQL actually run (a pivot's depends on the values read in the run's snapshot).
  up.bind(8, plan.sql).bind(9, plan.params.dump(-1, ' ', false, json::error_handler_t::replace));
  // An incremental run's bounds (both NULL otherwise): the next run starts after watermark_to.
  up.bind_json(10, plan.watermark_from).bind_json(11, plan.watermark_to);
  if (up.exec() == 0) throw ExportError(Code::interrupted, "the run was aborted or taken over");
  commit(tx);
}

void RunExecutor::fail(const std::string &reason) noexcept {
  sqlite3 *c = w_.control_.get();
  with_write_lock(c, std::chrono::seconds(10), w_.stop_, OnShutdown::skip, [&] {
    Stmt s(c,
           "UPDATE main._export_runs SET status = 'FAILED', failure_reason = ?3, finished_at = ?4, lease_owner = NULL, "
           "lease_until = NULL, rows_written = 0, bytes_written = 0, file_count = 0 "
           "WHERE id = ?1 AND lease_token = ?2 AND status = 'RUNNING'");
    s.bind(1, run_.id).bind(2, run_.token).bind(3, reason).bind(4, now_iso());
    if (s.exec() > 0 && recorded_) forget_files();
  });
  // If that did not commit, the lease expires and the run is rescued (up to the attempt limit).
}

std::string requeue_marker(const std::string &run_id, int64_t token) {
  return fmt::format(".requeue.{}-{}.tmp", run_id, token);
}

void RunExecutor::requeue() noexcept {
  sqlite3 *c = w_.control_.get();
  // Shutdown must stay quick: a few tries within about 300 ms.
  bool done = with_write_lock(c, std::chrono::milliseconds(300), w_.stop_, OnShutdown::ignore, [&] {
    Stmt s(c,
           "UPDATE main._export_runs SET status = 'CREATED', attempts = max(attempts - 1, 0), started_at = NULL, "
           "lease_owner = NULL, lease_until = NULL, rows_written = 0, bytes_written = 0, progress = 0 "
           "WHERE id = ?1 AND lease_token = ?2 AND status = 'RUNNING'");
    s.bind(1, run_.id).bind(2, run_.token);
    if (s.exec() > 0 && recorded_) forget_files();
  });
  if (done) return;
  // Another connection holds the write lock. The run stays RUNNING until its lease expires and
  // a worker rescues it; a marker in the output folder tells the rescue that this attempt ended
  // cleanly, so that it does not count as an interrupted attempt.
  try {
    if (!out_dir_.empty()) {
      OutputDir dir(out_dir_);
      dir.create_marker(requeue_marker(run_.id, run_.token));
    }
  } catch (const std::exception &) {
  }
}

// Delete the file records of this run whose files are removed from disk. A file that could
// not be removed keeps its record, so that the sweep removes it once it can.
void RunExecutor::forget_files() {
  std::vector<std::string> ids;
  {
    Stmt q(w_.control_.get(), "SELECT id, path FROM main._export_files WHERE run_id = ?1");
    q.bind(1, run_.id);
    while (q.step())
      if (std::find(unremoved_.begin(), unremoved_.end(), q.text(1)) == unremoved_.end()) ids.push_back(q.text(0));
  }
  Stmt del(w_.control_.get(), "DELETE FROM main._export_files WHERE id = ?1");
  for (const auto &id : ids) {
    del.reset();
    del.bind(1, id);
    del.exec();
  }
}

// The run is failing, stopping or aborted after some of its files were renamed into place:
// remove them, unless another attempt owns the run now (after a takeover, say past a disk that
// stalled for longer than the lease, the same names may already be the new owner's files).
// The check and the removal hold the write lock; a new owner claims the run (a new
// lease_token) and records its files under that lock before it renames anything into place,
// so a name seen as ours under the lock is ours. A run that no longer exists has no other
// owner. If the lock cannot be had, the files stay with their records, for the sweep.
void RunExecutor::remove_published(OutputDir &dir) noexcept {
  if (published_.empty() || stop_ == Stop::lost) return;
  sqlite3 *c = w_.control_.get();
  bool done = with_write_lock(c, std::chrono::seconds(2), w_.stop_, OnShutdown::try_once, [&] {
    Stmt q(c, "SELECT lease_token FROM main._export_runs WHERE id = ?1");
    q.bind(1, run_.id);
    bool mine = !q.step() || q.int64(0) == run_.token;
    q.reset();
    if (!mine) {
      stop_ = Stop::lost;  // neither fail nor requeue a run that is not ours
      return;
    }
    for (const auto &name : published_)
      if (!dir.remove_file(name)) unremoved_.push_back(dir.full_path(name));
  });
  if (done) return;
  for (const auto &name : published_) unremoved_.push_back(dir.full_path(name));
}

// After an abort: the files are removed from disk; delete their records if the run is still
// ABORTED (best effort: the sweep deletes what is left).
void RunExecutor::forget_aborted_files() noexcept {
  try {
    Transaction tx(w_.control_.get(), true);
    Stmt q(w_.control_.get(), "SELECT status FROM main._export_runs WHERE id = ?1");
    q.bind(1, run_.id);
    if (q.step() && q.text(0) == "ABORTED") forget_files();  // keeps the records of files not removed
    q.reset();
    tx.commit();
  } catch (const std::exception &) {
  }
}

}  // namespace sqlexport
