// executor.cpp: RunExecutor::execute(), the export of one claimed run (see executor.h).
//
// The run's reader connection already holds the run's snapshot (WorkerThread::claim_and_run).
// execute() plans the run, counts its rows (or estimates them from the rowid span), and writes
// its rows through the write pipeline in one of three ways: several readers over rowid chunks
// (parallel 2+), one reader whose rows the pipeline formats (one file), or one reader that
// formats and cuts parts (file_max_rows, file_max_bytes). Every ~500 ms a heartbeat extends the
// lease and publishes progress, fenced by the lease token; an abort, a takeover or a shutdown
// stops the run at the next check. Then finish() (executor_finish.cpp), or on failure: discard
// the temporary files, remove published ones, and fail or requeue the run.
#include <algorithm>

#include <fmt/format.h>

#include "compress.h"
#include "db.h"
#include "executor.h"
#include "output.h"
#include "query.h"
#include "runs.h"
#include "service.h"
#include "util.h"
#include "writer.h"
#include "xlsx.h"

namespace sqlexport {

using nlohmann::json;

int RunExecutor::progress_callback(void *self) noexcept {
  auto *ex = static_cast<RunExecutor *>(self);
  if (ex->w_.stop_.load()) {
    ex->stop_ = Stop::shutdown;
    return 1;
  }
  if (ex->cancel_.load()) return 1;  // an extra reader failed
  try {
    ex->heartbeat(false);
  } catch (...) {
  }
  return ex->stop_ != Stop::none ? 1 : 0;
}

void RunExecutor::heartbeat(bool force) {
  if (in_heartbeat_) return;
  auto now = Clock::now();
  if (!force && now - last_beat_ < kHeartbeatEvery) return;
  last_beat_ = now;
  in_heartbeat_ = true;
  struct Reset {
    bool &b;
    ~Reset() { b = false; }
  } reset{in_heartbeat_};
  sqlite3 *c = w_.control_.get();
  ServiceConfig cfg = w_.svc_.config();
  if (w_.wal_) {
    try {
      Stmt s(c,
             "UPDATE main._export_runs SET lease_until = ?3, rows_written = ?4, bytes_written = ?5, progress = ?6, "
             "rows_matched = ?7 WHERE id = ?1 AND lease_token = ?2 AND status = 'RUNNING'");
      int64_t seen = rows_seen();
      int64_t total = matched_ >= 0 ? matched_ : estimate_;
      double progress = total > 0 ? static_cast<double>(seen) / static_cast<double>(total) : 0.0;
      s.bind(1, run_.id).bind(2, run_.token).bind(3, now_ms() + cfg.lease_ms).bind(4, seen);
      s.bind(5, static_cast<int64_t>(bytes_)).bind(6, progress > 1.0 ? 1.0 : progress);
      if (matched_ >= 0) s.bind(7, matched_);
      else s.bind_null(7);
      if (s.exec() > 0) {
        // This worker's scheduler would wait for the run's end: it looks from here meanwhile,
        // so that a due time that comes during the run is seen (and skipped) when it comes.
        if (now - last_schedule_ >= kScheduleEvery) {
          last_schedule_ = now;
          try {
            w_.enqueue_due();
          } catch (const std::exception &) {
            // Looked at again at the next beat.
          }
        }
        return;
      }
    } catch (const SqliteError &) {
      return;  // busy: the lease is long enough to try again at the next beat
    }
  }
  // Rollback-journal mode cannot write while the reader holds its snapshot; it only checks.
  // A writer holding the lock (busy) is not a reason to stop: look again at the next beat.
  try {
    Stmt q(c, "SELECT status, lease_token FROM main._export_runs WHERE id = ?1");
    q.bind(1, run_.id);
    if (!q.step()) stop_ = Stop::aborted;
    else if (q.text(0) == "ABORTED") stop_ = Stop::aborted;
    else if (q.text(0) != "RUNNING" || q.int64(1) != run_.token) stop_ = Stop::lost;
  } catch (const SqliteError &e) {
    int prim = e.rc() & 0xff;
    if (prim != SQLITE_BUSY && prim != SQLITE_LOCKED) throw;
  }
}

void RunExecutor::check_stop() {
  if (w_.stop_.load()) stop_ = Stop::shutdown;
  if (stop_ != Stop::none) cancel_.store(true);
  if (stop_ != Stop::none) throw ExportError(Code::interrupted, "the export was stopped");
}

void RunExecutor::execute() noexcept {
  sqlite3 *r = w_.reader_.get();
  std::optional<OutputDir> dir;  // outlives the files, which refer to it
  std::vector<std::unique_ptr<OutputFile>> files;
  try {
    sqlite3_progress_handler(r, 20000, &RunExecutor::progress_callback, this);
    // An error of the source's own SQL or data is the user's (invalid_request), not the
    // extension's: it says where the run was, e.g. at which row (see read_source).
    auto at_row = [this] { return fmt::format("at row {}", rows_ + 1); };
    Plan plan = read_source([&] { return plan_run(r, run_.def, run_.criteria, false, true, run_.full); },
                            [] { return std::string("before its first row"); });
    bool every_row = !plan.incremental && (plan.criteria.is_null() || (plan.criteria.is_array() && plan.criteria.empty()) ||
                     (plan.criteria.is_object() && plan.criteria.empty()));
    if (plan.options.max_rows == 0 && !plan.range_sql.empty() && every_row) {
      // A whole rowid table and no limit: the count(*) pass (a tenth of the export's time) is
      // not needed; progress is estimated from the rowid span, and rows_matched is recorded at
      // the end.
      // Two subqueries: SQLite answers a lone min() or max() from the index, both together by a scan.
      const std::string &id = plan.source.rowid_name;
      Stmt span(r, "SELECT (SELECT max(" + id + ") FROM " + plan.source.from_sql + ") - (SELECT min(" + id +
                       ") FROM " + plan.source.from_sql + ") + 1");
      if (span.step() && !span.is_null(0)) estimate_ = span.int64(0);
    } else {
      auto counting = [] { return std::string("while counting its rows"); };
      Stmt count = read_source([&] { return Stmt(r, plan.count_sql); }, counting);
      bind_params(count, plan.params);
      read_source([&] { return count.step(); }, counting);
      matched_ = count.int64(0);
    }
    if (plan.options.max_rows > 0 && matched_ > plan.options.max_rows)
      throw ExportError(Code::not_admissible,
                        fmt::format("{} rows match; the limit is {}", matched_, plan.options.max_rows));
    heartbeat(true);
    check_stop();
    ServiceConfig cfg = w_.svc_.config();
    if (cfg.output_dir.empty())
      throw ExportError(Code::io_error, "no output folder is set for this in-memory database; set "
                                        "export_config('output_dir', ...)");
    out_dir_ = cfg.output_dir;
    dir.emplace(out_dir_);
    if (run_.def.format == Format::xlsx) {
      // Spreadsheets (ext/xlsx.h): libxlsxwriter builds each part on this thread; no pipeline.
      std::vector<int64_t> part_rows;
      Stmt st = read_source([&] { return Stmt(r, plan.sql); }, at_row);
      bind_params(st, plan.params);
      XlsxRun x{*dir, fmt::format("{}-{}", run_.id, run_.token), plan.options, plan.columns, st.get(),
                [&] { return read_source([&] { return st.step(); }, at_row); },
                [&](int64_t part) { return file_name(plan.options, run_.def.format, run_.number, part); },
                [this] { heartbeat(false); check_stop(); },
                [&cfg] { if (cfg.test_row_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(cfg.test_row_delay_us)); },
                &rows_, cfg.test_xlsx_sheet_rows > 0 ? cfg.test_xlsx_sheet_rows : kXlsxSheetRows};
      write_xlsx(x, files, part_rows);
      check_stop();
      exec(r, "COMMIT");  // end the read transaction before taking the write lock
      finish(*dir, files, part_rows, plan, rows_);
      sqlite3_progress_handler(r, 0, nullptr, nullptr);
      return;
    }
    const Options &o = plan.options;
    bool split = o.file_max_rows > 0 || o.file_max_bytes > 0;
    bool compressed = o.compression != Options::Compression::none;
    std::string tag = fmt::format("{}-{}", run_.id, run_.token);
    RowWriter writer(run_.def.format, o, plan.columns);
    // The pipeline may format with writer, and the extra readers use the pipeline, writer's
    // options and plan: both stop before writer and plan go, however we leave.
    struct PipelineGuard {
      RunExecutor *ex;
      ~PipelineGuard() {
        ex->stop_readers();
        ex->pipeline_.reset();
      }
    } pipeline_guard{this};
    std::string buf;
    buf.reserve(kFlushBytes + 64 * 1024);
    std::vector<int64_t> part_rows;
    int64_t part_input = 0;  // bytes already written to the current part (before compression)
    // Compressed parts: file_max_bytes counts the bytes on disk. At the part's last sync, it had
    // part_synced_bytes on disk for part_synced_input bytes of input.
    uint64_t part_synced_bytes = 0;
    int64_t part_synced_input = 0;
    uint64_t finished_bytes = 0;  // bytes on disk of the parts before the current one
    pipeline_.emplace();
    pipeline_->on_wait([this] {
      heartbeat(false);
      check_stop();
    });
    auto start_part = [&]() {
      check_stop();  // a shutdown must not wait for many small files (each is fsynced)
      if (!files.empty()) {
        pipeline_->drain();
        files.back()->finish();  // complete under its temporary name; no descriptor kept
        finished_bytes += files.back()->size_bytes();
      }
      int64_t part = split ? static_cast<int64_t>(files.size()) + 1 : 0;
      files.push_back(std::make_unique<OutputFile>(*dir, file_name(o, run_.def.format, run_.number, part), tag, o.codec()));
      part_rows.push_back(0);
      part_input = 0;
      part_synced_bytes = 0;
      part_synced_input = 0;
      writer.begin_file(buf);
    };
    auto flush = [&](size_t n) {
      if (n == 0) return;
      if (n == buf.size()) {
        pipeline_->submit(files.back().get(), buf);  // buf comes back empty (a spent buffer)
        if (buf.capacity() < kFlushBytes + 64 * 1024) buf.reserve(kFlushBytes + 64 * 1024);
      } else {
        std::string head(buf, 0, n);
        pipeline_->submit(files.back().get(), head);
        buf.erase(0, n);
      }
      part_input += static_cast<int64_t>(n);
      bytes_ = finished_bytes + pipeline_->disk_bytes();
    };
    start_part();
    bool parallel = w_.extra_active_ > 0 && !plan.range_sql.empty() && !split && plan.source.schema == "main";
    if (parallel && start_readers(plan)) {
      if (cfg.test_parallel_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg.test_parallel_delay_ms));
      flush(buf.size());  // the BOM and header go first
      OutputFile *file = files.back().get();
      for (auto &cr : readers_) {
        ChunkReader *p = cr.get();
        p->thread = std::thread([this, p, &plan, file] { run_reader(*p, plan, file); });
      }
      try {
        Stmt st = read_source([&] { return Stmt(r, plan.range_sql); }, at_row);
        read_chunks(st, writer, plan, file, main_rows_, true);
        // Keep the lease while the others end their last chunk.
        auto all_done = [&] {
          return std::all_of(readers_.begin(), readers_.end(), [](const auto &cr) { return cr->done.load(); });
        };
        for (;;) {
          {
            std::unique_lock<std::mutex> lock(readers_mu_);
            if (readers_cv_.wait_for(lock, std::chrono::milliseconds(100), all_done)) break;
          }
          heartbeat(false);
          check_stop();
        }
      } catch (const std::exception &) {
        // A reader's own failure explains the stop better than the interruption it caused here
        // (an ExportError from the cancelled pipeline, or SQLITE_INTERRUPT from this reader's
        // progress handler).
        stop_readers();
        if (stop_ == Stop::none)
          for (auto &cr : readers_)
            if (cr->error && cr->error->code() != Code::interrupted) throw *cr->error;
        throw;
      }
      for (auto &cr : readers_) cr->thread.join();  // all done
      for (auto &cr : readers_)
        if (cr->error) throw *cr->error;
      rows_ = rows_seen();
      part_rows.back() = rows_;
    } else if (!split && writer.columns() > 0) {
      // One reader and one file: this thread only captures the rows' values; the pipeline's
      // thread formats them (and compresses, hashes and writes), so both cores work.
      flush(buf.size());  // the BOM and header go first, formatted
      OutputFile *file = files.back().get();
      Stmt st = read_source([&] { return Stmt(r, plan.sql); }, at_row);
      bind_params(st, plan.params);
      while (read_source([&] { return st.step(); }, at_row)) {
        writer.capture_row(st.get(), buf);
        ++rows_;
        if (cfg.test_row_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(cfg.test_row_delay_us));
        if (buf.size() >= kFlushBytes) {
          pipeline_->submit(file, buf, 0, &writer);  // buf comes back empty (a spent buffer)
          if (buf.capacity() < kFlushBytes + 64 * 1024) buf.reserve(kFlushBytes + 64 * 1024);
        }
        if ((rows_ & 1023) == 0) {
          bytes_ = pipeline_->disk_bytes();
          heartbeat(false);
          check_stop();
        }
      }
      if (!buf.empty()) pipeline_->submit(file, buf, 0, &writer);
      part_rows.back() = rows_;
    } else {
      Stmt st = read_source([&] { return Stmt(r, plan.sql); }, at_row);
      bind_params(st, plan.params);
      std::string row_tail;
      // Would the row that starts at buf[before] take the part past file_max_bytes? A plain
      // part counts its bytes. A compressed part counts what is on disk at its last sync plus
      // the codec's worst case for the input since; when that may pass the limit, the part is
      // synced (the row held back) to know its exact size, and the test repeats on the row
      // alone (before becomes 0). Near the limit, syncs come closer together (each adds a
      // gzip member or a zstd flush); a part never passes the limit unless it is one row.
      auto over_bytes_at = [&](size_t &before) {
        int64_t pending = part_input + static_cast<int64_t>(buf.size());
        if (!compressed) return pending > o.file_max_bytes;
        OutputFile &f = *files.back();
        auto over = [&] {
          return part_synced_bytes + f.bound(static_cast<uint64_t>(pending - part_synced_input)) >
                 static_cast<uint64_t>(o.file_max_bytes);
        };
        if (!over()) return false;
        row_tail.assign(buf, before, std::string::npos);
        buf.resize(before);
        flush(buf.size());
        pipeline_->drain();
        f.sync();
        part_synced_bytes = f.file_bytes();
        part_synced_input = part_input;
        buf = row_tail;
        before = 0;
        pending = part_input + static_cast<int64_t>(buf.size());
        return over();
      };
      while (read_source([&] { return st.step(); }, at_row)) {
        size_t before = buf.size();
        writer.write_row(st.get(), buf);
        bool over_rows = o.file_max_rows > 0 && part_rows.back() >= o.file_max_rows;
        bool over_bytes = !over_rows && o.file_max_bytes > 0 && part_rows.back() > 0 && over_bytes_at(before);
        if (over_rows || over_bytes) {
          row_tail.assign(buf, before, std::string::npos);
          buf.resize(before);
          flush(buf.size());
          start_part();
          buf += row_tail;
        }
        ++part_rows.back();
        ++rows_;
        if (cfg.test_row_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(cfg.test_row_delay_us));
        if (buf.size() >= kFlushBytes) flush(buf.size());
        if ((rows_ & 1023) == 0) {
          heartbeat(false);
          check_stop();
        }
      }
      flush(buf.size());
    }
    pipeline_->drain();
    pipeline_.reset();
    files.back()->finish();
    check_stop();
    exec(r, "COMMIT");  // end the read transaction before taking the write lock
    finish(*dir, files, part_rows, plan, rows_);
  } catch (const std::exception &e) {
    stop_readers();
    pipeline_.reset();  // joins its thread before the files go
    for (auto &f : files) f->discard();
    files.clear();
    if (dir) remove_published(*dir);
    sqlite3_exec(r, "ROLLBACK", nullptr, nullptr, nullptr);
    if (stop_ == Stop::none && w_.stop_.load()) stop_ = Stop::shutdown;
    if (stop_ == Stop::shutdown) {
      requeue();
    } else if (stop_ == Stop::none) {
      std::string reason;
      if (auto *ee = dynamic_cast<const ExportError *>(&e)) {
        reason = ee->reason();
      } else if (auto *se = dynamic_cast<const SqliteError *>(&e)) {
        int prim = se->rc() & 0xff;
        const char *code = prim == SQLITE_INTERRUPT                      ? "interrupted"
                           : (prim == SQLITE_IOERR || prim == SQLITE_FULL) ? "io_error"
                                                                           : "internal";
        reason = fmt::format("{}: {}", code, se->what());
      } else {
        reason = fmt::format("internal: {}", e.what());
      }
      fail(reason);
    }
    // Stop::aborted: the run is already ABORTED; Stop::lost: another worker owns it now.
    if (stop_ == Stop::aborted && recorded_) forget_aborted_files();
  }
  release_compression_cache();  // the zstd context kept between this run's parts
  sqlite3_progress_handler(r, 0, nullptr, nullptr);
  sqlite3_exec(r, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace sqlexport
