// compress.cpp: gzip in parallel blocks (libdeflate) and zstd (libzstd's worker threads).
//
// gzip
//   Input collects in a 1 MiB block. A full block goes to the file's compression threads
//   (started with the first full block, so a small file starts none) and is compressed there
//   into one complete gzip member with libdeflate_gzip_compress. The calling thread writes the
//   finished members out in the order their blocks came, oldest first, whenever it passes by;
//   when 2 x threads + 1 blocks are in flight it waits for the oldest. Memory: at most that
//   many blocks of input and of output. sync() and finish() compress the partial block on the
//   calling thread (no thread is needed for it) after the blocks in flight.
//   Why members: libdeflate compresses whole buffers only (it has no streaming or dictionary
//   interface), and an independent block is what lets blocks be compressed side by side. A
//   1 MiB block loses its 32 KiB of history at each boundary; on the benchmark's CSV the file
//   is 0.1 % larger than one whole-buffer stream at the same level (level 1: +0.125 %,
//   level 6: +0.093 %), plus 18 bytes of header and trailer a member.
// zstd
//   One ZSTD_CCtx in streaming mode; ZSTD_c_nbWorkers makes libzstd compress in its own
//   threads, which it joins when the context is freed. The sink gets each output buffer as
//   soon as compressStream2 fills it.
#include "compress.h"

#include <libdeflate.h>
#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace sqlexport {

const char *compression_name(Compression c) noexcept {
  switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
    default: return "none";
  }
}

const char *compression_suffix(Compression c) noexcept {
  switch (c) {
    case Compression::gzip: return ".gz";
    case Compression::zstd: return ".zst";
    default: return "";
  }
}

int min_level(Compression c) noexcept { return c == Compression::none ? 0 : 1; }
int max_level(Compression c) noexcept {
  switch (c) {
    case Compression::gzip: return 9;   // the gzip command's range (libdeflate goes to 12)
    case Compression::zstd: return 19;  // the zstd command's range without --ultra
    default: return 0;
  }
}
int default_level(Compression c) noexcept {
  // gzip 1: libdeflate's level 1 makes a file within 10 % of `gzip -6` at 5 x its speed.
  // zstd 1: 550 MB/s a core, smaller than `gzip -6`.
  return c == Compression::none ? 0 : 1;
}

namespace {

unsigned cores() noexcept {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : std::min(n, 8u);
}

struct DeflateFree {
  void operator()(libdeflate_compressor *c) const noexcept { libdeflate_free_compressor(c); }
};
using DeflatePtr = std::unique_ptr<libdeflate_compressor, DeflateFree>;

DeflatePtr new_deflater(int level) {
  DeflatePtr c(libdeflate_alloc_compressor(level));
  if (!c) throw ExportError(Code::internal, "cannot start gzip compression: out of memory");
  return c;
}

class GzipCompressor final : public Compressor {
 public:
  static constexpr size_t kBlock = 1u << 20;

  GzipCompressor(int level, Sink sink, unsigned threads)
      : level_(level), threads_wanted_(threads == 0 ? cores() : threads), sink_(std::move(sink)),
        own_(new_deflater(level)), block_bound_(libdeflate_gzip_compress_bound(own_.get(), kBlock)) {
    block_.reserve(kBlock);
  }

  ~GzipCompressor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto &t : threads_) t.join();  // a thread ends its block first: the job it holds is in order_
  }

  void write(const char *p, size_t n) override {
    while (n > 0) {
      size_t take = std::min(n, kBlock - block_.size());
      block_.append(p, take);
      p += take;
      n -= take;
      if (block_.size() == kBlock) submit();
    }
  }

  void sync() override {
    std::unique_lock<std::mutex> lock(mu_);
    write_done(lock, 0);
    lock.unlock();
    if (!block_.empty()) {
      compress_here(block_);
      block_.clear();
    }
  }

  void finish() override {
    sync();
    if (members_ == 0) compress_here(block_);  // an empty file is one empty member
  }

  uint64_t bound(uint64_t n) const override {
    uint64_t full = n / kBlock, rest = n % kBlock;
    uint64_t b = full * block_bound_;
    if (rest > 0 || (n == 0 && members_ == 0)) b += libdeflate_gzip_compress_bound(own_.get(), rest);
    return b;
  }

 private:
  // A full block and its member. Jobs are reused (spare_), so their buffers are allocated
  // once: in keeps its capacity, out holds block_bound_ bytes (uninitialised).
  struct Job {
    std::string in;
    std::unique_ptr<char[]> out;
    size_t out_len = 0;
    bool done = false;
    bool failed = false;
  };

  // Hand the full block to the threads (or, if none could be had, compress it here).
  void submit() {
    if (threads_.empty() && threads_wanted_ > 1) start_threads();
    if (threads_.empty()) {
      compress_here(block_);
      block_.clear();
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    std::unique_ptr<Job> job;
    if (!spare_.empty()) {
      job = std::move(spare_.back());
      spare_.pop_back();
    } else {
      lock.unlock();
      job = std::make_unique<Job>();
      job->out.reset(new char[block_bound_]);
      lock.lock();
    }
    job->in.swap(block_);  // block_ takes the spent job's input buffer, capacity and all
    job->done = job->failed = false;
    todo_.push_back(job.get());
    order_.push_back(std::move(job));
    work_cv_.notify_one();
    write_done(lock, 2 * threads_.size() + 1);
    lock.unlock();
    block_.clear();
    if (block_.capacity() < kBlock) block_.reserve(kBlock);
  }

  void start_threads() {
    // A thread that cannot start fails the file, like every other thread of an export
    // (std::system_error leaves through write()); the ones started are joined.
    threads_.reserve(threads_wanted_);
    for (unsigned i = 0; i < threads_wanted_; ++i) {
      DeflatePtr c = new_deflater(level_);
      threads_.emplace_back([this, c = std::move(c)]() mutable { loop(c.get()); });
    }
  }

  // Write out the finished members at the head of the order, then wait for the oldest while
  // more than keep blocks are in flight. Called with the lock held; the sink runs without it.
  void write_done(std::unique_lock<std::mutex> &lock, size_t keep) {
    for (;;) {
      while (!order_.empty() && order_.front()->done) {
        std::unique_ptr<Job> job = std::move(order_.front());
        order_.pop_front();
        lock.unlock();
        if (job->failed) throw ExportError(Code::internal, "gzip compression failed");
        sink_(job->out.get(), job->out_len);
        ++members_;
        lock.lock();
        spare_.push_back(std::move(job));  // at most as many as were in flight
      }
      if (order_.size() <= keep) return;
      done_cv_.wait(lock, [&] { return order_.front()->done; });
    }
  }

  void loop(libdeflate_compressor *c) noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stopping_ || !todo_.empty(); });
      if (stopping_) return;
      Job *job = todo_.front();
      todo_.pop_front();
      lock.unlock();
      // Never 0: out holds the bound of a full block. No allocation happens here.
      job->out_len = libdeflate_gzip_compress(c, job->in.data(), job->in.size(), job->out.get(), block_bound_);
      lock.lock();
      job->failed = job->out_len == 0;
      job->done = true;
      done_cv_.notify_all();
    }
  }

  // One member of a partial block (or an empty one), on the calling thread.
  void compress_here(const std::string &in) {
    scratch_.resize(libdeflate_gzip_compress_bound(own_.get(), in.size()));
    size_t n = libdeflate_gzip_compress(own_.get(), in.data(), in.size(), scratch_.data(), scratch_.size());
    if (n == 0) throw ExportError(Code::internal, "gzip compression failed");  // the bound rules it out
    sink_(scratch_.data(), n);
    ++members_;
  }

  int level_;
  unsigned threads_wanted_;
  Sink sink_;
  DeflatePtr own_;  // the calling thread's compressor (partial blocks, bounds)
  uint64_t block_bound_;
  std::string block_;    // the block being filled (calling thread)
  std::string scratch_;  // compress_here's output (calling thread)
  uint64_t members_ = 0;  // members given to the sink (calling thread)

  std::mutex mu_;
  std::condition_variable work_cv_;       // a job to take, or stop
  std::condition_variable done_cv_;       // a job is done
  std::deque<std::unique_ptr<Job>> order_;  // blocks in flight, in file order
  std::deque<Job *> todo_;                  // of those, the ones no thread has taken
  std::vector<std::unique_ptr<Job>> spare_;  // written jobs, for reuse
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: joined in the destructor, before the rest goes
};

struct ZstdFree {
  void operator()(ZSTD_CCtx *c) const noexcept { ZSTD_freeCCtx(c); }
};
using ZstdPtr = std::unique_ptr<ZSTD_CCtx, ZstdFree>;

// The context of the last zstd file this thread finished, kept for the next with the same
// level and threads: its tables, buffers and worker threads are reused instead of allocated
// again (at level 19 over 200 MB a context; a run writing many small parts would allocate them
// for each). release_compression_cache() frees it; a thread's exit does too.
struct ZstdSpare {
  ZstdPtr cctx;
  int level = 0;
  unsigned threads = 0;
};
thread_local ZstdSpare t_zstd_spare;

class ZstdCompressor final : public Compressor {
 public:
  ZstdCompressor(int level, Sink sink, unsigned threads)
      : sink_(std::move(sink)), level_(level), threads_(threads == 0 ? cores() : threads) {
    ZstdSpare &spare = t_zstd_spare;
    if (spare.cctx && spare.level == level_ && spare.threads == threads_) {
      cctx_ = std::move(spare.cctx);  // reset when it was kept: parameters stay
    } else {
      spare.cctx.reset();
      cctx_.reset(ZSTD_createCCtx());
      if (!cctx_) throw ExportError(Code::internal, "cannot start zstd compression: out of memory");
      check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level));
      check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1));
      // A libzstd built without threads refuses nbWorkers: it then compresses on this thread.
      if (threads_ > 1) ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_nbWorkers, static_cast<int>(threads_));
    }
    out_.resize(ZSTD_CStreamOutSize());
  }

  ~ZstdCompressor() override {
    // Keep the context for this thread's next file: a new frame starts from a reset session
    // (what a failed or abandoned stream left is dropped; the parameters stay).
    if (ZSTD_isError(ZSTD_CCtx_reset(cctx_.get(), ZSTD_reset_session_only))) return;
    t_zstd_spare = ZstdSpare{std::move(cctx_), level_, threads_};
  }
  ZstdCompressor(const ZstdCompressor &) = delete;
  ZstdCompressor &operator=(const ZstdCompressor &) = delete;

  void write(const char *p, size_t n) override {
    ZSTD_inBuffer in{p, n, 0};
    while (in.pos < in.size) run(in, ZSTD_e_continue);
  }
  void sync() override { drive(ZSTD_e_flush); }
  void finish() override { drive(ZSTD_e_end); }
  uint64_t bound(uint64_t n) const override {
    // A frame's header (at most 18 bytes) if none is written yet, the blocks' worst case, and
    // the end: an empty last block (3) and the checksum (4).
    return ZSTD_compressBound(static_cast<size_t>(n)) + 32;
  }

 private:
  static size_t check(size_t rc) {
    if (ZSTD_isError(rc)) throw ExportError(Code::internal, std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
    return rc;
  }
  // One call of compressStream2; its output goes to the sink. Returns what is left to flush.
  size_t run(ZSTD_inBuffer &in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t left = check(ZSTD_compressStream2(cctx_.get(), &out, &in, mode));
    if (out.pos > 0) sink_(out_.data(), out.pos);
    return left;
  }
  void drive(ZSTD_EndDirective mode) {
    ZSTD_inBuffer none{nullptr, 0, 0};
    while (run(none, mode) != 0) {
    }
  }

  Sink sink_;
  int level_;
  unsigned threads_;
  ZstdPtr cctx_;  // freeing it joins libzstd's threads
  std::string out_;
};

}  // namespace

void release_compression_cache() noexcept { t_zstd_spare.cctx.reset(); }

std::unique_ptr<Compressor> make_compressor(const Codec &codec, Compressor::Sink sink, unsigned threads) {
  int level = codec.level == 0 ? default_level(codec.kind) : codec.level;
  switch (codec.kind) {
    case Compression::gzip: return std::make_unique<GzipCompressor>(level, std::move(sink), threads);
    case Compression::zstd: return std::make_unique<ZstdCompressor>(level, std::move(sink), threads);
    default: return nullptr;
  }
}

}  // namespace sqlexport
