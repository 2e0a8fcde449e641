// compress.h: the compressed forms of an output file (option "compression"), fed by OutputFile.
//
//   gzip  libdeflate, in independent blocks of 1 MiB of input, each compressed on one of the
//         file's compression threads (one per core) and written in order. Each block is a
//         complete gzip member; a gzip file is a series of members (RFC 1952, 2.2), which
//         gzip, zcat, Python's gzip module and DuckDB read as one stream.
//   zstd  libzstd's streaming compressor with its own worker threads (ZSTD_c_nbWorkers, one
//         per core), one frame with a content checksum.
//
// Compressed bytes leave through the sink, in file order, always on the thread that called
// write(), sync() or finish(): the sink may throw (a failed write) and the exception leaves
// through that call. After a throw the compressor may only be destroyed. Destruction joins
// every thread the compressor started, and never throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace sqlexport {

enum class Compression { none, gzip, zstd };

const char *compression_name(Compression c) noexcept;    // "none", "gzip", "zstd"
const char *compression_suffix(Compression c) noexcept;  // "", ".gz", ".zst"
// The levels a user may choose (option "compression_level"), and the one used when none is
// chosen (see docs/REFERENCE.md, "Options": measured on the benchmark's CSV).
int min_level(Compression c) noexcept;
int max_level(Compression c) noexcept;
int default_level(Compression c) noexcept;

struct Codec {
  Compression kind = Compression::none;
  int level = 0;  // 0: default_level(kind)
};

class Compressor {
 public:
  using Sink = std::function<void(const char *p, size_t n)>;
  virtual ~Compressor() = default;
  // Take n more bytes of the file's content.
  virtual void write(const char *p, size_t n) = 0;
  // Compress everything taken so far and pass it to the sink; the stream goes on. Afterwards
  // the bytes given to the sink are the file's exact size so far.
  virtual void sync() = 0;
  // Compress the rest and end the stream (an empty input still makes a valid, empty file).
  virtual void finish() = 0;
  // The most bytes that n more bytes of input, taken after a sync() (or at the start), can
  // add to the file, the stream's end included.
  virtual uint64_t bound(uint64_t n) const = 0;
};

// A compressor for codec (kind gzip or zstd), writing to sink. threads: compression threads
// to use (0: one per core). Throws ExportError(internal) when the library cannot start.
std::unique_ptr<Compressor> make_compressor(const Codec &codec, Compressor::Sink sink, unsigned threads = 0);

// A thread keeps the zstd context of the last file it finished, for its next file with the
// same level and threads (a run writing many parts reuses one). Free it (and join libzstd's
// threads): the executor calls this when a run ends, so an idle worker holds no such memory.
void release_compression_cache() noexcept;

}  // namespace sqlexport
