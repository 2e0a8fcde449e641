// output.h: atomic, confined output files (SPEC section 7, guarantees 5 and 7).
//
// Every file is written under a temporary name created with O_CREAT|O_EXCL|O_NOFOLLOW inside
// the output folder (always relative to the folder's descriptor), fsynced, closed, renamed to
// its final name and the folder fsynced. A file that is not committed is unlinked.
// All system calls go through FileSystem so tests can make the Nth call fail.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "compress.h"

namespace sqlexport {

// The system calls the file layer makes. Each returns what the system call returns and sets
// errno on failure.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual int open_dir(const char *path);  // open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)
  virtual int mkdir(const char *path, mode_t mode);
  virtual int openat(int dirfd, const char *name, int flags, mode_t mode);
  virtual ssize_t write(int fd, const void *buf, size_t n);
  virtual int fsync(int fd);
  virtual int close(int fd);
  virtual int renameat(int dirfd, const char *from, const char *to);  // both relative to dirfd
  virtual int unlinkat(int dirfd, const char *name);
};

// The FileSystem in use: the real one unless a test installed another.
FileSystem &file_system();
// Install fs for tests (nullptr restores the real one). Not thread-safe: call while no export runs.
void set_file_system_for_testing(FileSystem *fs);

// An output folder, opened once; files are only ever created relative to its descriptor.
class OutputDir {
 public:
  // Open path, creating its last component (mode 0755) if missing. Never follows a symlink as
  // the last component. Throws ExportError(io_error) "cannot open output folder '<path>': <reason>".
  explicit OutputDir(std::string path);
  ~OutputDir();
  OutputDir(const OutputDir &) = delete;
  OutputDir &operator=(const OutputDir &) = delete;
  int fd() const noexcept { return fd_; }
  const std::string &path() const noexcept { return path_; }
  // Full path of a name inside the folder (for export_files.path).
  std::string full_path(std::string_view name) const;
  // Remove temporary files ".<final>.<tag>.tmp" for which is_stale(tag) is true; returns how
  // many were removed. Never throws.
  int remove_temporaries(const std::function<bool(const std::string &tag)> &is_stale) noexcept;
  // Remove a final file by name if present (a failed run's leftovers); true if it is gone
  // (removed, or not there). Never throws.
  bool remove_file(const std::string &name) noexcept;
  // Create an empty file (a marker) if it does not exist; true if it exists afterwards.
  bool create_marker(const std::string &name) noexcept;
  // Remove a file; true if it existed and was removed.
  bool take_marker(const std::string &name) noexcept;

 private:
  std::string path_;
  int fd_ = -1;
};

// One output file: written under ".<final_name>.<tag>.tmp", renamed to final_name by commit().
class OutputFile {
 public:
  // Creates the temporary file. The bytes given to write() are compressed with codec
  // (compress.h) unless its kind is none. Throws ExportError(io_error) naming the file and the
  // system's error.
  OutputFile(OutputDir &dir, std::string final_name, const std::string &tag, Codec codec = {});
  ~OutputFile();  // discards unless committed; never throws
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  // Append bytes (before compression). Throws ExportError(io_error).
  // Every call that throws has discarded the file first (it leaves nothing behind).
  void write(std::string_view bytes);
  // Compressed files: compress everything written so far, so that file_bytes() is the file's
  // exact size up to here (option file_max_bytes counts the bytes on disk). A no-op for plain
  // files. Throws ExportError(io_error).
  void sync();
  // Bytes of the file so far, on disk or in its write buffer (after compression).
  uint64_t file_bytes() const noexcept;
  // The most bytes that n more bytes of input can add to the file, after a sync(): n for a
  // plain file, the codec's worst case with its stream's end for a compressed one.
  uint64_t bound(uint64_t n) const noexcept;
  // finish() then publish(). Throws ExportError(io_error).
  void commit();
  // Finish the stream, fsync and close: the complete file stays under its temporary name and
  // holds no descriptor. sha256_hex() and size_bytes() are final. Throws ExportError(io_error).
  void finish();
  // Rename the finished file to its final name, fsync the folder. Throws ExportError(io_error).
  // When the folder's fsync fails, the final file is removed, unless !remove_on_failure: then
  // the caller removes it (it may have to check first that the name is still its own).
  void publish(bool remove_on_failure = true);
  // Remove the temporary file (and nothing else). Never throws.
  void discard() noexcept;

  const std::string &final_name() const noexcept { return final_name_; }
  uint64_t size_bytes() const noexcept { return disk_bytes_; }  // bytes written to disk so far
  uint64_t input_bytes() const noexcept { return input_bytes_; }  // bytes given to write()
  std::string sha256_hex() const;  // of the bytes on disk; valid after finish()

 private:
  struct State;
  class Syncer;
  OutputDir &dir_;
  std::string final_name_;
  std::string temp_name_;
  int fd_ = -1;
  bool finished_ = false;
  bool committed_ = false;
  uint64_t disk_bytes_ = 0;
  uint64_t synced_from_ = 0;  // a background fsync was asked for after the bytes before this offset
  uint64_t input_bytes_ = 0;
  std::unique_ptr<State> state_;  // compressor, SHA-256 context, write buffer
  void write_disk(const char *p, size_t n);
  void append(const char *p, size_t n);  // to the write buffer (after compression)
};

}  // namespace sqlexport
