// pipeline.h: the write pipeline of a run, on its own thread.
//
// WritePipeline writes the formatted bytes of a run (compression, SHA-256 and write(), all in
// OutputFile) on a thread of its own, while the run's readers go on reading and formatting.
// Bytes come in numbered chunks: a run read by one connection sends everything as chunk 0; a
// parallel run sends chunk k for the k-th rowid range, from whichever reader read it. The
// pipeline writes chunk k's buffers in the order they came, and chunk k + 1's only after
// end_chunk(k). Memory stays bounded: a submit for the chunk being written waits while kQueued
// of its buffers wait; a submit for a later chunk waits while kAheadBytes are queued in all
// (the head chunk can always go on, so this cannot deadlock). The OutputFile is used only by
// the pipeline's thread between submit() and drain().
//
// A run that captures rows instead of formatting them (one reader, one file) hands the
// pipeline its RowWriter: the pipeline's thread then formats as well (see submit()).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sqlexport {

class OutputFile;
class RowWriter;

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
  void submit(OutputFile *f, std::string &data, int64_t k = 0, const RowWriter *format = nullptr);
  // Chunk k is complete: the next chunk may be written once k's buffers are.
  void end_chunk(int64_t k);
  // Wait until everything queued is written; rethrow the first error.
  void drain();
  // While the calling thread waits in submit() or drain(), call f about every 500 ms, without
  // the lock (the worker keeps its lease and sees a stop while the disk is slow; f may throw).
  // Call before other threads use the pipeline.
  void on_wait(std::function<void()> f) {
    waiter_ = std::this_thread::get_id();
    on_wait_ = std::move(f);
  }
  // Make every waiting and later submit() throw (a reader failed or the run stops).
  void cancel() noexcept;
  // Stop: abandon what is queued, wait for the write in progress, join. Never throws.
  void stop() noexcept;
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
  // Wait on cv_ for pred; the waiter set by on_wait() calls on_wait_ every 500 ms meanwhile.
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
  size_t queued_items() const;
  void loop() noexcept;

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

}  // namespace sqlexport
