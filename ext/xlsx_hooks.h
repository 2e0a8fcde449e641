// xlsx_hooks.h: where libxlsxwriter, as this project compiles it (CMakeLists.txt), calls back
// into the extension, and the per-workbook state those calls report to.
//
// 1. Temporary files. The library keeps each sheet's rows, and later each sheet's assembled XML,
//    in temporary files (lxw_tmpfile), and ignores their write errors: a full disk would give a
//    COMPLETE run with a cut-off sheet. src/utility.c is compiled with tmpfileplus mapped to
//    sqlexport_lxw_tmpfile, which creates the file as the library would, in the same folder,
//    and hands the library a stdio stream of ours (fopencookie) that records the first failed
//    read or write in the workbook's XlsxIo, refuses writes once the run is stopped, and is
//    known to XlsxIo until the library closes it, so files a failed packing leaves open are
//    closed (XlsxIo::close_open_files).
// 2. The zip. Its packer (workbook_close) opens the zip with minizip's zipOpen; src/packager.c
//    is compiled with zipOpen mapped to sqlexport_lxw_zip_open, which opens it with minizip's
//    own stdio file functions (minizip's documented I/O hook, zlib_filefunc64_def) except that
//    a write fails once the run is stopped. minizip writes every 64 KiB of compressed output,
//    so stopping ends the packing within milliseconds instead of after seconds of compression
//    (guarantee 8: a close or an abort does not wait for it).
// 3. The zip's compression level. packager.c's zipOpenNewFileInZip4_64 is mapped to
//    sqlexport_lxw_zip_entry, which gives minizip the workbook's level (option
//    compression_level, 1 by default: about 4 times faster than the library's zlib default, 6,
//    for a zip about a quarter larger) instead of Z_DEFAULT_COMPRESSION.
// 4. Diagnostics. The library's messages (compiled with USE_R_LANG, see
//    cmake/libxlsxwriter/R.h) are kept per thread, never printed on the host's stderr.
//
// The hooks find the workbook through the XlsxIoScope alive on the calling thread: the run's
// thread sets one around calls that may create files, the packing thread around workbook_close.
#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace sqlexport {

struct XlsxTempFile;

class XlsxIo {
 public:
  // Where O_TMPFILE is not supported, the library's temporary files are named
  // name_prefix + N + name_suffix (".<final>-temp3.<tag>.tmp": the sweep knows them by the
  // tag) and unlinked as soon as they are created.
  XlsxIo(std::string name_prefix, std::string name_suffix)
      : name_prefix_(std::move(name_prefix)), name_suffix_(std::move(name_suffix)) {}
  ~XlsxIo();  // closes what close_open_files would
  XlsxIo(const XlsxIo &) = delete;
  XlsxIo &operator=(const XlsxIo &) = delete;

  // The deflate level of the workbook's zip members (1 to 9).
  void set_zip_level(int level) noexcept { zip_level_ = level; }
  int zip_level() const noexcept { return zip_level_; }

  // From now on, writes to the zip and to the temporary files fail (any thread).
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  bool stopped() const noexcept { return stop_.load(std::memory_order_relaxed); }
  // errno of the first temporary-file read or write that failed (not counting those refused
  // after stop()), 0 if none.
  int temp_error() const noexcept { return temp_error_.load(std::memory_order_relaxed); }
  // fclose every temporary file the library created for this workbook and has not closed (a
  // packing that failed or was stopped leaves the sheets it did not reach open). Only when no
  // library call on this workbook runs and the workbook will not use them again.
  void close_open_files() noexcept;
  size_t open_files() const;
  // For the hook: a new temporary file in folder dir (a path), read-write, without a name
  // (O_TMPFILE, or a name of ours unlinked at once). Never anywhere else: the library's own
  // tmpfileplus would try $TMPDIR, /tmp and "." when dir fails. -1 with errno.
  int create_temp(const char *dir) noexcept;

 private:
  friend struct XlsxTempFile;
  friend struct ZipIo;
  void record(int err) noexcept;
  void add(XlsxTempFile *f);
  void forget(XlsxTempFile *f) noexcept;

  const std::string name_prefix_, name_suffix_;
  std::atomic<unsigned> names_{0};
  int zip_level_ = 1;
  std::atomic<bool> stop_{false};
  std::atomic<int> temp_error_{0};
  mutable std::mutex mu_;
  std::vector<XlsxTempFile *> open_;
};

// Makes io the workbook the library's calls on this thread report to, while alive.
class XlsxIoScope {
 public:
  explicit XlsxIoScope(XlsxIo &io) noexcept;
  ~XlsxIoScope();
  XlsxIoScope(const XlsxIoScope &) = delete;
  XlsxIoScope &operator=(const XlsxIoScope &) = delete;

 private:
  XlsxIo *previous_;
};

// The last diagnostic libxlsxwriter reported on this thread ("" if none), cleared.
std::string take_xlsx_message();

}  // namespace sqlexport
