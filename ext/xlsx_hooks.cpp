// xlsx_hooks.cpp: see xlsx_hooks.h.
#include "xlsx_hooks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <new>
#include <string>

#include <minizip/ioapi.h>
#include <minizip/zip.h>

extern "C" {  // the library's own temporary files, for those not of a workbook of ours
#include <xlsxwriter/third_party/tmpfileplus.h>
}

namespace sqlexport {

namespace {
thread_local XlsxIo *tls_io = nullptr;
thread_local std::string tls_message;

}  // namespace

// One temporary file of the library: a stdio stream of ours over a descriptor (fopencookie).
struct XlsxTempFile {
  XlsxIo *io;
  int fd;
  FILE *file = nullptr;

  static ssize_t read(void *cookie, char *buf, size_t size) {
    auto *f = static_cast<XlsxTempFile *>(cookie);
    if (f->io->stopped()) {  // the library's copy loops end at the first failed read
      errno = ECANCELED;
      return -1;
    }
    for (;;) {
      ssize_t n = ::read(f->fd, buf, size);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      f->io->record(errno);
      return -1;
    }
  }
  // fopencookie: the bytes written, 0 on error.
  static ssize_t write(void *cookie, const char *buf, size_t size) {
    auto *f = static_cast<XlsxTempFile *>(cookie);
    if (f->io->stopped()) {
      errno = ECANCELED;
      return 0;
    }
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(f->fd, buf + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        f->io->record(n < 0 ? errno : EIO);
        return 0;
      }
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }
  static int seek(void *cookie, off64_t *offset, int whence) {
    auto *f = static_cast<XlsxTempFile *>(cookie);
    off64_t at = lseek64(f->fd, *offset, whence);
    if (at < 0) {
      f->io->record(errno);  // the library would read on from the wrong place
      return -1;
    }
    *offset = at;
    return 0;
  }
  static int close(void *cookie) {
    auto *f = static_cast<XlsxTempFile *>(cookie);
    int rc = ::close(f->fd);
    f->io->forget(f);
    delete f;
    return rc;
  }

  // A new temporary file of io's in folder dir; nullptr with errno.
  static FILE *open(XlsxIo &io, const char *dir) {
    int fd = io.create_temp(dir);
    if (fd < 0) return nullptr;
    auto *f = new (std::nothrow) XlsxTempFile{&io, fd};
    if (!f) {
      ::close(fd);
      errno = ENOMEM;
      return nullptr;
    }
    cookie_io_functions_t funcs{};
    funcs.read = &XlsxTempFile::read;
    funcs.write = &XlsxTempFile::write;
    funcs.seek = &XlsxTempFile::seek;
    funcs.close = &XlsxTempFile::close;
    f->file = fopencookie(f, "w+", funcs);
    if (!f->file) {
      int err = errno;
      ::close(fd);
      delete f;
      errno = err;
      return nullptr;
    }
    try {
      io.add(f);
    } catch (...) {
      fclose(f->file);  // close() frees f
      errno = ENOMEM;
      return nullptr;
    }
    return f->file;
  }
};

// minizip's stdio file functions, with a write that fails once the workbook is stopped.
struct ZipIo {
  static uLong ZCALLBACK write(voidpf opaque, voidpf stream, const void *buf, uLong size) {
    auto *io = static_cast<ZipIo *>(opaque);
    if (io->xlsx && io->xlsx->stopped()) {
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
  XlsxIo *xlsx = nullptr;
};

XlsxIo::~XlsxIo() { close_open_files(); }

int XlsxIo::create_temp(const char *dir) noexcept {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char name[4096];  // no allocation: called from the library's C code, nothing may throw
    int n = snprintf(name, sizeof name, "%s/%s%u%s", dir, name_prefix_.c_str(), names_.fetch_add(1),
                     name_suffix_.c_str());
    if (n < 0 || static_cast<size_t>(n) >= sizeof name) {
      errno = ENAMETOOLONG;
      return -1;
    }
    fd = open(name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd >= 0 && unlink(name) != 0 && errno != ENOENT) {  // ENOENT: a sweep was first
      int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    return fd;
  }
  errno = EEXIST;
  return -1;
}

void XlsxIo::record(int err) noexcept {
  if (stopped()) return;  // a refused write makes later ones fail too: not the disk's fault
  int none = 0;
  temp_error_.compare_exchange_strong(none, err ? err : EIO, std::memory_order_relaxed);
}

void XlsxIo::add(XlsxTempFile *f) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.push_back(f);
}

void XlsxIo::forget(XlsxTempFile *f) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(std::remove(open_.begin(), open_.end(), f), open_.end());
}

void XlsxIo::close_open_files() noexcept {
  for (;;) {
    FILE *file;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (open_.empty()) return;
      file = open_.back()->file;
    }
    fclose(file);  // XlsxTempFile::close forgets it
  }
}

size_t XlsxIo::open_files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

XlsxIoScope::XlsxIoScope(XlsxIo &io) noexcept : previous_(tls_io) { tls_io = &io; }
XlsxIoScope::~XlsxIoScope() { tls_io = previous_; }

std::string take_xlsx_message() {
  std::string m;
  m.swap(tls_message);
  return m;
}

}  // namespace sqlexport

using sqlexport::XlsxIo;
using sqlexport::XlsxTempFile;
using sqlexport::ZipIo;

// src/utility.c's tmpfileplus (lxw_tmpfile calls it with the workbook's tmpdir and no name): a
// file of ours when a workbook's XlsxIoScope is alive on this thread (every call of ours sets
// one), NULL with errno (the library reports it) when that file cannot be created; the
// library's own tmpfileplus otherwise (an application using the static library's copy of
// libxlsxwriter for its own workbooks).
extern "C" FILE *sqlexport_lxw_tmpfile(const char *dir, const char *prefix, char **pathname, int keep) noexcept {
  XlsxIo *io = sqlexport::tls_io;
  if (!io) return tmpfileplus(dir, prefix, pathname, keep);  // not one of ours: the library's own way
  if (pathname) *pathname = nullptr;
  if (!dir) {
    errno = EINVAL;
    return nullptr;
  }
  return XlsxTempFile::open(*io, dir);
}

// src/packager.c's zipOpen (see xlsx_hooks.h). minizip copies the function table into the zip's
// state; the ZipIo it points to must live until zipClose, which libxlsxwriter calls before
// workbook_close returns: one per thread, reused by the next workbook.
extern "C" zipFile sqlexport_lxw_zip_open(const char *pathname, int append) {
  thread_local ZipIo io;
  fill_fopen64_filefunc(&io.base);
  io.xlsx = sqlexport::tls_io;
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

// src/packager.c's zipOpenNewFileInZip4_64: the same, at the workbook's level (xlsx_hooks.h).
extern "C" int sqlexport_lxw_zip_entry(zipFile file, const char *filename, const zip_fileinfo *zipfi,
                                       const void *extrafield_local, uInt size_extrafield_local,
                                       const void *extrafield_global, uInt size_extrafield_global,
                                       const char *comment, int method, int level, int raw, int windowBits,
                                       int memLevel, int strategy, const char *password, uLong crcForCrypting,
                                       uLong versionMadeBy, uLong flagBase, int zip64) {
  if (XlsxIo *io = sqlexport::tls_io; io && method == Z_DEFLATED && !raw) level = io->zip_level();
  return zipOpenNewFileInZip4_64(file, filename, zipfi, extrafield_local, size_extrafield_local, extrafield_global,
                                 size_extrafield_global, comment, method, level, raw, windowBits, memLevel, strategy,
                                 password, crcForCrypting, versionMadeBy, flagBase, zip64);
}

// libxlsxwriter's diagnostics (cmake/libxlsxwriter/R.h): kept, not printed.
extern "C" void sqlexport_lxw_report(const char *format, ...) noexcept {
  char buf[512];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) --len;
  try {
    sqlexport::tls_message.assign(buf, len);
  } catch (...) {  // out of memory: the message is lost, nothing else
  }
}
