// executor.h: the executor of one claimed run: read it in its snapshot, write its files,
// finish, fail or requeue it.
//
// A RunExecutor lives for one run, on its worker's thread, with the worker's connections. The
// files that implement it:
//   executor.cpp         execute(): plan, count, read and format rows, parts, heartbeats, stops
//   executor_read.cpp    parallel reading: the extra readers and their rowid chunks
//   executor_finish.cpp  finish() (record, rename, COMPLETE), fail(), requeue(), file clean-up
// The bytes go through a WritePipeline (pipeline.h) into OutputFiles (output.h).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"
#include "pipeline.h"
#include "worker_thread.h"

namespace sqlexport {

class OutputDir;
class OutputFile;
class RowWriter;
class Stmt;
struct Plan;

using Clock = std::chrono::steady_clock;
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(500);
constexpr auto kScheduleEvery = std::chrono::seconds(1);  // how often a worker's scheduler looks
constexpr size_t kFlushBytes = 256 * 1024;  // rows are handed to the pipeline in buffers of this size

// Why an export stopped before its end.
enum class Stop { none, shutdown, aborted, lost };

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
  Clock::time_point last_schedule_ = Clock::now();  // the scheduler's last look from a heartbeat
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


}  // namespace sqlexport
