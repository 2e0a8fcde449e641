// xlsx_hooks.h: the two places where libxlsxwriter, as this project compiles it (CMakeLists.txt),
// calls back into the extension.
//
// 1. Its packer (workbook_close) opens the zip with minizip's zipOpen; src/packager.c is compiled
//    with zipOpen mapped to sqlexport_lxw_zip_open, which opens it with minizip's own stdio file
//    functions (its documented I/O hook, zlib_filefunc64_def), except that while an XlsxPackScope
//    is alive on the thread, a write fails once the scope's stop flag is set. minizip writes every
//    64 KiB of compressed output, so setting the flag ends the packing within milliseconds
//    instead of after seconds of compression (guarantee 8: a close or an abort does not wait).
// 2. Its diagnostics (compiled with USE_R_LANG, see cmake/libxlsxwriter/R.h) are kept per thread
//    instead of printed on the host's stderr; take_xlsx_message() returns the last one.
#pragma once
#include <atomic>
#include <string>

namespace sqlexport {

class XlsxPackScope {
 public:
  explicit XlsxPackScope(const std::atomic<bool> &stop) noexcept;
  ~XlsxPackScope();
  XlsxPackScope(const XlsxPackScope &) = delete;
  XlsxPackScope &operator=(const XlsxPackScope &) = delete;
  bool stopped_a_write() const noexcept { return refused_; }  // a write was refused for the flag

 private:
  friend struct ZipIo;
  const std::atomic<bool> &stop_;
  bool refused_ = false;
  XlsxPackScope *previous_;
};

// The last diagnostic libxlsxwriter reported on this thread ("" if none), cleared.
std::string take_xlsx_message();

}  // namespace sqlexport
