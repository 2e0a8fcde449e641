// xlsx_hooks.cpp: see xlsx_hooks.h.
#include "xlsx_hooks.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include <minizip/ioapi.h>
#include <minizip/zip.h>

namespace sqlexport {

namespace {
thread_local XlsxPackScope *tls_scope = nullptr;
thread_local std::string tls_message;
}  // namespace

// minizip's stdio file functions, with a write that fails once the scope's flag is set.
struct ZipIo {
  static uLong ZCALLBACK write(voidpf opaque, voidpf stream, const void *buf, uLong size) {
    auto *io = static_cast<ZipIo *>(opaque);
    if (io->scope && io->scope->stop_.load(std::memory_order_relaxed)) {
      io->scope->refused_ = true;
      errno = ECANCELED;
      return 0;
    }
    return io->base.zwrite_file(io->base.opaque, stream, buf, size);
  }
  static voidpf ZCALLBACK open(voidpf opaque, const void *name, int mode) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.zopen64_file(io->base.opaque, name, mode);
  }
  static uLong ZCALLBACK read(voidpf opaque, voidpf stream, void *buf, uLong size) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.zread_file(io->base.opaque, stream, buf, size);
  }
  static ZPOS64_T ZCALLBACK tell(voidpf opaque, voidpf stream) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.ztell64_file(io->base.opaque, stream);
  }
  static long ZCALLBACK seek(voidpf opaque, voidpf stream, ZPOS64_T offset, int origin) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.zseek64_file(io->base.opaque, stream, offset, origin);
  }
  static int ZCALLBACK close(voidpf opaque, voidpf stream) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.zclose_file(io->base.opaque, stream);
  }
  static int ZCALLBACK error(voidpf opaque, voidpf stream) {
    auto *io = static_cast<ZipIo *>(opaque);
    return io->base.zerror_file(io->base.opaque, stream);
  }

  zlib_filefunc64_def base{};
  XlsxPackScope *scope = nullptr;
};

XlsxPackScope::XlsxPackScope(const std::atomic<bool> &stop) noexcept : stop_(stop), previous_(tls_scope) {
  tls_scope = this;
}

XlsxPackScope::~XlsxPackScope() { tls_scope = previous_; }

std::string take_xlsx_message() {
  std::string m;
  m.swap(tls_message);
  return m;
}

}  // namespace sqlexport

using sqlexport::ZipIo;

// packager.c's zipOpen (see xlsx_hooks.h). minizip copies the function table into the zip's
// state; the ZipIo it points to must live until zipClose, which libxlsxwriter calls before
// workbook_close returns: one per thread, reused by the next workbook.
extern "C" zipFile sqlexport_lxw_zip_open(const char *pathname, int append) {
  thread_local ZipIo io;
  fill_fopen64_filefunc(&io.base);
  io.scope = sqlexport::tls_scope;
  zlib_filefunc64_def def{};
  def.zopen64_file = &ZipIo::open;
  def.zread_file = &ZipIo::read;
  def.zwrite_file = &ZipIo::write;
  def.ztell64_file = &ZipIo::tell;
  def.zseek64_file = &ZipIo::seek;
  def.zclose_file = &ZipIo::close;
  def.zerror_file = &ZipIo::error;
  def.opaque = &io;
  return zipOpen2_64(pathname, append, nullptr, &def);
}

// libxlsxwriter's diagnostics (cmake/libxlsxwriter/R.h): kept, not printed.
extern "C" void sqlexport_lxw_report(const char *format, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return;
  std::string m(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  sqlexport::tls_message = std::move(m);
}
