// worker.cpp: the worker thread: claim a run, read it in one snapshot, write its files.
//
// Life of a run on a worker (see docs/DESIGN.md for the whole picture):
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
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "db.h"
#include "errors.h"
#include "output.h"
#include "query.h"
#include "runs.h"
#include "schema.h"
#include "service.h"
#include "util.h"
#include "writer.h"
#include "xlsx.h"

namespace sqlexport {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

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
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(500);
constexpr size_t kFlushBytes = 256 * 1024;
std::atomic<uint64_t> g_extra_reader_chunks{0};  // see extra_reader_chunks_for_testing()

// Why an export stopped before its end.
enum class Stop { none, shutdown, aborted, lost };

struct ClaimedRun {
  std::string id;
  int64_t token = 0;
  int64_t number = 0;
  int64_t attempts = 0;
  json criteria;
  json attach;
  Definition def;
};

class RunExecutor;

class WorkerThread {
 public:
  WorkerThread(Service &svc, int index, std::atomic<bool> &stop) : svc_(svc), index_(index), stop_(stop) {}
  void run() noexcept;

 private:
  friend class RunExecutor;
  bool open();
  int64_t data_version();
  bool work_available();
  bool claim_and_run();
  void sync_for_journal_mode();
  void sweep() noexcept;
  // Remove temporary files of run_id left by attempts before token (a dead process's).
  void remove_dead_temporaries(const std::string &output_dir, const std::string &run_id, int64_t token) noexcept;
  void attach_for(const json &attach);
  bool wait_for(std::chrono::milliseconds d, uint64_t &seen_gen);

  Service &svc_;
  int index_;
  std::atomic<bool> &stop_;
  Connection control_;
  Connection reader_;
  std::vector<Connection> extra_;  // more readers, for a run split across rowid ranges
  int extra_active_ = 0;           // how many of extra_ hold the current run's snapshot
  bool wal_ = false;
  bool schema_ready_ = false;
  std::string owner_;
  std::vector<std::string> attached_;
};

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

// An extra reader of a run read by several connections at once (see RunExecutor::read_chunks).
struct ChunkReader {
  sqlite3 *db = nullptr;
  std::atomic<int64_t> rows{0};
  std::atomic<bool> done{false};
  std::optional<ExportError> error;
  std::thread thread;
  ~ChunkReader() {
    if (thread.joinable()) thread.join();
  }
};

// How a rowid span is cut for parallel reading: chunk k holds rowids
// [lo + k * size, lo + (k + 1) * size - 1], the last one up to hi.
struct Chunks {
  int64_t lo = 0, hi = 0, size = 1, count = 0;
  std::atomic<int64_t> next{0};  // the next chunk to take
};

// Writes the formatted bytes of a run on its own thread (compression, SHA-256 and write()),
// while the readers go on reading and formatting. Bytes come in numbered chunks: a run read by
// one connection sends everything as chunk 0; a parallel run sends chunk k for the k-th rowid
// range, from whichever reader read it. The pipeline writes chunk k's buffers in the order they
// came, and chunk k + 1's only after end_chunk(k). Memory stays bounded: a submit for the chunk
// being written waits while kQueued of its buffers wait; a submit for a later chunk waits while
// kAheadBytes are queued in all (the head chunk can always go on, so this cannot deadlock). The
// OutputFile is used only by the pipeline's thread between submit() and drain().
class WritePipeline {
 public:
  WritePipeline() : thread_([this] { loop(); }) {}
  ~WritePipeline() { stop(); }
  WritePipeline(const WritePipeline &) = delete;
  WritePipeline &operator=(const WritePipeline &) = delete;

  // Queue data for f as part of chunk k (data is moved from; it comes back empty, reusing a
  // spent buffer). Throws the pipeline's first error, or interrupted after cancel().
  // With format set, data holds rows captured by format->capture_row: the pipeline formats
  // them (format must outlive the pipeline's use of it: drain() or stop() first).
  void submit(OutputFile *f, std::string &data, int64_t k = 0, const RowWriter *format = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    wait(lock, [&] {
      if (error_ || stopping_) return true;
      if (k == head_) return chunks_[k].size() < kQueued;
      return queued_bytes_ < kAheadBytes;
    });
    if (error_) std::rethrow_exception(error_);
    queued_bytes_ += data.size();
    chunks_[k].push_back({f, std::move(data), false, format});
    data.clear();
    if (!spare_.empty()) {
      data.swap(spare_.back());
      spare_.pop_back();
    }
    cv_.notify_all();
  }
  // Chunk k is complete: the next chunk may be written once k's buffers are.
  void end_chunk(int64_t k) {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_[k].push_back({nullptr, std::string(), true, nullptr});
    cv_.notify_all();
  }
  // Wait until everything queued is written; rethrow the first error.
  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    wait(lock, [&] { return (queued_items() == 0 && !busy_) || error_; });
    if (error_) std::rethrow_exception(error_);
  }
  // While the calling thread waits in submit() or drain(), call f about every 500 ms, without
  // the lock (the worker keeps its lease and sees a stop while the disk is slow; f may throw).
  // Call before other threads use the pipeline.
  void on_wait(std::function<void()> f) {
    waiter_ = std::this_thread::get_id();
    on_wait_ = std::move(f);
  }
  // Make every waiting and later submit() throw (a reader failed or the run stops).
  void cancel() noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::make_exception_ptr(ExportError(Code::interrupted, "the export was stopped"));
    }
    cv_.notify_all();
  }
  // Stop: abandon what is queued, wait for the write in progress, join. Never throws.
  void stop() noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      chunks_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // Bytes on disk of the file being written, as of the last write (for progress reports).
  uint64_t disk_bytes() const noexcept { return disk_bytes_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kQueued = 4;
  static constexpr size_t kAheadBytes = 8u << 20;
  struct Item {
    OutputFile *file;
    std::string data;
    bool end;                   // marks the end of its chunk
    const RowWriter *format;    // data holds captured rows that this writer formats
  };
  template <class Pred>
  void wait(std::unique_lock<std::mutex> &lock, Pred pred) {
    if (!on_wait_ || std::this_thread::get_id() != waiter_) {
      cv_.wait(lock, pred);
      return;
    }
    while (!cv_.wait_for(lock, std::chrono::milliseconds(500), pred)) {
      lock.unlock();
      on_wait_();
      lock.lock();
    }
  }
  size_t queued_items() const {
    size_t n = 0;
    for (const auto &c : chunks_) n += c.second.size();
    return n;
  }
  void loop() noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] {
        if (stopping_) return true;
        auto it = chunks_.find(head_);
        return it != chunks_.end() && !it->second.empty();
      });
      if (stopping_) return;
      auto it = chunks_.find(head_);
      Item item = std::move(it->second.front());
      it->second.pop_front();
      if (item.end) {
        chunks_.erase(it);
        ++head_;
        cv_.notify_all();
        continue;
      }
      queued_bytes_ -= item.data.size();
      if (error_) continue;  // the file is failed or abandoned: write nothing more into it
      busy_ = true;
      lock.unlock();
      std::exception_ptr err;
      try {
        if (item.format) {
          formatted_.clear();
          item.format->write_captured(item.data, formatted_);
          item.file->write(formatted_);
        } else {
          item.file->write(item.data);
        }
        disk_bytes_.store(item.file->size_bytes(), std::memory_order_relaxed);
      } catch (...) {
        err = std::current_exception();
      }
      item.data.clear();
      lock.lock();
      busy_ = false;
      if (err && !error_) error_ = err;
      if (spare_.size() < 2 * kQueued) spare_.push_back(std::move(item.data));
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::deque<Item>> chunks_;  // queued buffers by chunk
  int64_t head_ = 0;                            // the chunk being written
  size_t queued_bytes_ = 0;
  std::vector<std::string> spare_;
  std::string formatted_;  // the pipeline thread's formatting buffer
  std::thread::id waiter_;
  std::function<void()> on_wait_;
  std::exception_ptr error_;
  bool busy_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> disk_bytes_{0};
  std::thread thread_;  // last: started once every member above exists
};

class RunExecutor {
 public:
  RunExecutor(WorkerThread &w, ClaimedRun run) : w_(w), run_(std::move(run)) {}
  ~RunExecutor() { stop_readers(); }
  void execute() noexcept;

 private:
  static int reader_progress(void *self) noexcept;
  bool start_readers(const Plan &plan);
  void read_chunks(Stmt &st, const RowWriter &writer, const Plan &plan, OutputFile *file, std::atomic<int64_t> &rows,
                   bool on_main);
  void run_reader(ChunkReader &cr, const Plan &plan, OutputFile *file) noexcept;
  void stop_readers() noexcept;
  int64_t rows_seen() const;

  static int progress_callback(void *self) noexcept;
  void heartbeat(bool force);
  void check_stop();
  void finish(OutputDir &dir, std::vector<std::unique_ptr<OutputFile>> &files, const std::vector<int64_t> &part_rows,
              const Plan &plan, int64_t rows);
  void fail(const std::string &reason) noexcept;
  void requeue() noexcept;

  WorkerThread &w_;
  ClaimedRun run_;
  Stop stop_ = Stop::none;
  Clock::time_point last_beat_ = Clock::now();
  int64_t rows_ = 0;
  int64_t matched_ = -1;   // rows that match, when counted
  int64_t estimate_ = -1;  // else an upper bound (rowid span) for progress
  uint64_t bytes_ = 0;
  bool in_heartbeat_ = false;
  std::atomic<bool> cancel_{false};     // tells the extra readers to stop
  Chunks chunks_;                       // the rowid span's chunks when the run is read in parallel
  std::atomic<int64_t> main_rows_{0};   // rows this thread read in a parallel run
  std::mutex readers_mu_;               // with readers_cv_: a reader's done is set under it
  std::condition_variable readers_cv_;  // notified when an extra reader is done
  std::vector<std::unique_ptr<ChunkReader>> readers_;  // after the two above: their threads use them
  std::string out_dir_;                 // the folder this run writes to
  std::vector<std::string> published_;  // final names renamed into place (removed on failure)
  std::optional<WritePipeline> pipeline_;  // writes the current file on its own thread
  bool recorded_ = false;                // the files are recorded in _export_files (committed)
  std::vector<std::string> unremoved_;   // final files whose removal failed: their records stay
  void forget_files();
  void forget_aborted_files() noexcept;
  void remove_published(OutputDir &dir) noexcept;
};

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
      if (s.exec() > 0) return;
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
    Plan plan = read_source([&] { return plan_run(r, run_.def, run_.criteria, false); },
                            [] { return std::string("before its first row"); });
    bool every_row = plan.criteria.is_null() || (plan.criteria.is_array() && plan.criteria.empty()) ||
                     (plan.criteria.is_object() && plan.criteria.empty());
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
  sqlite3_progress_handler(r, 0, nullptr, nullptr);
  sqlite3_exec(r, "ROLLBACK", nullptr, nullptr, nullptr);
}

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
          "sql = ?8, params = ?9 WHERE id = ?1 AND lease_token = ?2");
  up.bind(1, run_.id).bind(2, run_.token).bind(3, finished_at).bind(4, expires_at).bind(5, rows);
  up.bind(6, static_cast<int64_t>(total_bytes)).bind(7, static_cast<int64_t>(files.size()));
  // The SQL actually run (a pivot's depends on the values read in the run's snapshot).
  up.bind(8, plan.sql).bind(9, plan.params.dump(-1, ' ', false, json::error_handler_t::replace));
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
            "SELECT r.id, r.lease_token, r.number, r.attempts, r.status, r.criteria, r.attach, d.id "
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

}  // namespace

uint64_t extra_reader_chunks_for_testing() noexcept { return g_extra_reader_chunks.load(); }

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
