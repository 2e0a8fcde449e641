// executor_read.cpp: a run read by several connections at once (see RunExecutor::start_readers).
#include <algorithm>

#include <fmt/format.h>

#include "db.h"
#include "executor.h"
#include "query.h"
#include "service.h"
#include "worker.h"
#include "writer.h"

namespace sqlexport {

namespace {
std::atomic<uint64_t> g_extra_reader_chunks{0};  // see extra_reader_chunks_for_testing()
}  // namespace

uint64_t extra_reader_chunks_for_testing() noexcept { return g_extra_reader_chunks.load(); }

int RunExecutor::reader_progress(void *self) noexcept {
  auto *ex = static_cast<RunExecutor *>(self);
  return ex->cancel_.load() || ex->w_.stop_.load() ? 1 : 0;
}

int64_t RunExecutor::rows_seen() const {
  if (readers_.empty()) return rows_;
  int64_t n = main_rows_.load();
  for (const auto &r : readers_) n += r->rows.load();
  return n;
}

void RunExecutor::stop_readers() noexcept {
  cancel_.store(true);
  if (!readers_.empty() && pipeline_) pipeline_->cancel();  // wakes readers waiting to submit
  for (auto &r : readers_)
    if (r->thread.joinable()) r->thread.join();
}

// Parallel reading (SPEC guarantee 3 holds: every reader's read transaction began while no
// write could commit, so all see one snapshot). The run's rowid span is cut into chunks of
// about 16,384 rowids that the readers (this thread and the extra readers' threads) take in
// turn, each as soon as it is done with the last; the write pipeline puts their bytes in the
// file in chunk order (see WritePipeline). Nothing is copied through a temporary file.
// Returns false (and reads nothing) when the span is too small to be worth splitting.
bool RunExecutor::start_readers(const Plan &plan) {
  sqlite3 *r = w_.reader_.get();
  // Two subqueries: SQLite answers a lone min() or max() from the b-tree, both together by a scan.
  const std::string &id = plan.source.rowid_name;
  Stmt mm(r, "SELECT (SELECT min(" + id + ") FROM " + plan.source.from_sql + "), (SELECT max(" + id + ") FROM " +
                 plan.source.from_sql + ")");
  if (!mm.step() || mm.is_null(0)) return false;
  int64_t lo = mm.int64(0), hi = mm.int64(1);
  int n = 1 + w_.extra_active_;
  // Spans beyond 2^62 rowids stay on one reader: the chunk arithmetic below then cannot
  // overflow (every chunk start is at most hi, every size at most 2^62 / 4).
  uint64_t gap = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (hi < lo || gap >= (uint64_t{1} << 62)) return false;
  uint64_t span = gap + 1;
  if (span < static_cast<uint64_t>(n) * 1024) return false;
  constexpr uint64_t kChunkRowids = 16384, kMaxChunks = 65536;
  uint64_t count = span / kChunkRowids;
  count = std::clamp<uint64_t>(count, static_cast<uint64_t>(n) * 4, kMaxChunks);
  uint64_t size = (span + count - 1) / count;
  chunks_.lo = lo;
  chunks_.hi = hi;
  chunks_.size = static_cast<int64_t>(size);
  chunks_.count = static_cast<int64_t>((span + size - 1) / size);
  for (int k = 1; k < n; ++k) {
    readers_.push_back(std::make_unique<ChunkReader>());
    readers_.back()->db = w_.extra_[static_cast<size_t>(k - 1)].get();
  }
  return true;
}

// Read chunks until none is left, sending their bytes to file through the pipeline.
void RunExecutor::read_chunks(Stmt &st, const RowWriter &writer, const Plan &plan, OutputFile *file,
                              std::atomic<int64_t> &rows, bool on_main) {
  const int np = static_cast<int>(plan.params.size());
  const int64_t delay_us = w_.svc_.config().test_row_delay_us;
  std::string buf;
  buf.reserve(kFlushBytes + 64 * 1024);
  int64_t count = 0;
  for (;;) {
    int64_t k = chunks_.next.fetch_add(1);
    if (k >= chunks_.count || cancel_.load()) break;
    int64_t a = chunks_.lo + k * chunks_.size;
    int64_t b = k == chunks_.count - 1 ? chunks_.hi : a + chunks_.size - 1;
    st.reset();
    bind_params(st, plan.params);
    st.bind(np + 1, a).bind(np + 2, b);
    // The number of the failing row is not known here (other readers read the chunks before).
    while (read_source([&] { return st.step(); },
                       [&] { return fmt::format("at a row whose rowid is between {} and {}", a, b); })) {
      writer.write_row(st.get(), buf);
      if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      if ((++count & 1023) == 0) {
        rows.store(count);
        if (on_main) {
          bytes_ = pipeline_->disk_bytes();
          heartbeat(false);
          check_stop();
        }
      }
      if (buf.size() >= kFlushBytes) {
        pipeline_->submit(file, buf, k);  // buf comes back empty (a spent buffer)
        if (buf.capacity() < kFlushBytes + 64 * 1024) buf.reserve(kFlushBytes + 64 * 1024);
      }
    }
    if (!buf.empty()) pipeline_->submit(file, buf, k);
    pipeline_->end_chunk(k);
    rows.store(count);
    if (!on_main) g_extra_reader_chunks.fetch_add(1);
  }
  rows.store(count);
}

void RunExecutor::run_reader(ChunkReader &cr, const Plan &plan, OutputFile *file) noexcept {
  try {
    sqlite3_progress_handler(cr.db, 20000, &RunExecutor::reader_progress, this);
    RowWriter writer(run_.def.format, plan.options, plan.columns);
    Stmt st = read_source([&] { return Stmt(cr.db, plan.range_sql); }, [] { return std::string("at row 1"); });
    read_chunks(st, writer, plan, file, cr.rows, false);
  } catch (const ExportError &e) {
    cr.error = e;
  } catch (const SqliteError &e) {
    int prim = e.rc() & 0xff;
    cr.error = ExportError(prim == SQLITE_INTERRUPT ? Code::interrupted : Code::internal, e.what());
  } catch (const std::exception &e) {
    cr.error = ExportError(Code::internal, e.what());
  }
  if (cr.error) {
    cancel_.store(true);
    pipeline_->cancel();  // wakes the other readers if they wait to submit
  }
  sqlite3_progress_handler(cr.db, 0, nullptr, nullptr);
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    cr.done.store(true);
  }
  readers_cv_.notify_all();
}

}  // namespace sqlexport
