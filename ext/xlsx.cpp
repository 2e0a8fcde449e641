// xlsx.cpp: spreadsheet exports with libxlsxwriter (see xlsx.h for what is written and why).
#include "xlsx.h"

#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <xlsxwriter.h>

#include "errors.h"
#include "util.h"
#include "writer.h"
#include "xlsx_hooks.h"

namespace sqlexport {

namespace {

constexpr size_t kCopyChunk = 1 << 20;
constexpr double kMinWidth = 8.43;  // Excel's default column width, in characters
constexpr double kMaxWidth = 60;
constexpr size_t kMeasureMax = 64;  // characters counted for a width (more would not widen it)

// A file descriptor, closed by its destructor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const noexcept { return fd_; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) file_system().close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// libxlsxwriter formats some numbers (column widths, row heights) with snprintf, which follows the
// thread's LC_NUMERIC (cell values go through its locale-independent dtoa, USE_DTOA_LIBRARY): a
// host that set a locale with a decimal comma would get a corrupt file. Every call into the
// library runs with the "C" locale for this thread (uselocale changes nothing else).
class CLocale {
 public:
  CLocale() : loc_(newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr))) {
    if (!loc_) throw ExportError(Code::internal, "cannot create the C locale");
  }
  ~CLocale() { freelocale(loc_); }
  CLocale(const CLocale &) = delete;
  CLocale &operator=(const CLocale &) = delete;
  locale_t get() const noexcept { return loc_; }

 private:
  locale_t loc_;
};

class UseLocale {
 public:
  explicit UseLocale(const CLocale &l) : old_(uselocale(l.get())) {}
  ~UseLocale() { uselocale(old_); }
  UseLocale(const UseLocale &) = delete;
  UseLocale &operator=(const UseLocale &) = delete;

 private:
  locale_t old_;
};

struct WorkbookFree {
  void operator()(lxw_workbook *wb) const noexcept { lxw_workbook_free(wb); }
};

[[noreturn]] void library_error(const char *what, lxw_error err) {
  throw ExportError(Code::internal, fmt::format("libxlsxwriter: {}: {}", what, lxw_strerror(err)));
}

void check(lxw_error err, const char *what) {
  if (err != LXW_NO_ERROR) library_error(what, err);
}

// Characters (code points) of valid UTF-8 text, counting at most up to limit + 1.
size_t count_chars(const char *p, size_t n, size_t limit) noexcept {
  size_t chars = 0;
  for (size_t i = 0; i < n && chars <= limit; ++i)
    if ((static_cast<unsigned char>(p[i]) & 0xC0) != 0x80) ++chars;
  return chars;
}

// Whether p[0..n) is valid UTF-8 without NUL bytes (what a C string given to the library must be).
bool clean_text(const unsigned char *p, size_t n) noexcept {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    bool valid = false;
    i += utf8_sequence_length(p + i, n - i, valid);
    if (!valid) return false;
  }
  return true;
}

// p[0..n) with every NUL and every invalid UTF-8 subpart replaced by U+FFFD (as the JSON Lines
// writer does: XML, hence xlsx, can hold neither).
void repair_text(const unsigned char *p, size_t n, std::string &out) {
  out.clear();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c != 0 && c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    bool valid = false;
    size_t len = utf8_sequence_length(p + i, n - i, valid);
    if (valid) out.append(reinterpret_cast<const char *>(p + i), len);
    else out += "\xEF\xBF\xBD";
    i += len;
  }
}

}  // namespace

struct XlsxWorkbook::Impl {
  OutputDir &dir;
  std::string final_name;
  std::string tag;
  const Options &options;
  std::vector<std::string> columns;
  int64_t sheet_rows;
  CLocale locale;
  XlsxIo io;                // the library's temporary files and zip, through ext/xlsx_hooks.h
  Fd scratch;               // the workbook's bytes, written by libxlsxwriter (no name)
  std::string scratch_path;  // /proc/self/fd/N
  std::string tmpdir;        // /proc/self/fd/<output folder>
  std::unique_ptr<lxw_workbook, WorkbookFree> wb;
  lxw_format *bold = nullptr;
  lxw_format *text = nullptr;  // number format "@": marks an empty TEXT (a NULL has no format)
  lxw_worksheet *ws = nullptr;
  std::vector<lxw_worksheet *> sheets;  // owned by wb
  int sheet_count = 0;
  int64_t sheet_row = 0;   // the next row of the current sheet (0-based)
  int64_t sheet_data = 0;  // data rows on the current sheet
  int64_t rows = 0;
  bool widths_set = false;
  std::vector<size_t> widths;  // per column: the longest text measured, in characters
  std::string cell;            // a cell's text
  std::string repaired;

  Impl(OutputDir &d, std::string name, std::string t, const Options &o, std::vector<std::string> cols,
       int64_t per_sheet)
      : dir(d), final_name(std::move(name)), tag(std::move(t)), options(o), columns(std::move(cols)),
        sheet_rows(per_sheet), io("." + final_name + "-temp", "." + tag + ".tmp") {
    io.set_zip_level(options.compression_level >= 1 ? options.compression_level : kXlsxDefaultZipLevel);
  }

  [[noreturn]] void temp_failed(int err) const {
    throw ExportError(Code::io_error, fmt::format("cannot write the xlsx file '{}': its temporary data in '{}': {}",
                                                  dir.full_path(final_name), dir.path(), error_text(err)));
  }

  void open_scratch() {
    if (access("/proc/self/fd", X_OK) != 0)
      throw ExportError(Code::io_error, "xlsx exports need /proc/self/fd (the proc file system), which is not available");
    FileSystem &fs = file_system();
    int fd = fs.openat(dir.fd(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
      // No O_TMPFILE here: a name of our own (the sweep knows it by its tag), unlinked at once.
      std::string name = "." + final_name + "-scratch." + tag + ".tmp";
      fd = fs.openat(dir.fd(), name.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
      if (fd >= 0 && fs.unlinkat(dir.fd(), name.c_str()) != 0) {
        int err = errno;
        fs.close(fd);
        throw ExportError(Code::io_error, fmt::format("unlink '{}': {}", dir.full_path(name), error_text(err)));
      }
    }
    if (fd < 0)
      throw ExportError(Code::io_error,
                        fmt::format("cannot create a scratch file in '{}': {}", dir.path(), error_text(errno)));
    scratch.reset(fd);
    scratch_path = fmt::format("/proc/self/fd/{}", fd);
    tmpdir = fmt::format("/proc/self/fd/{}", dir.fd());
  }

  void start() {
    if (columns.empty()) throw ExportError(Code::invalid_request, "an xlsx export needs at least one column");
    if (static_cast<int64_t>(columns.size()) > kXlsxMaxColumns)
      throw ExportError(Code::invalid_request,
                        fmt::format("this export has {} columns; an xlsx sheet holds at most {} (Excel's limit)",
                                    columns.size(), kXlsxMaxColumns));
    if (sheet_rows < 2) sheet_rows = 2;
    open_scratch();
    UseLocale use(locale);
    XlsxIoScope scope(io);
    lxw_workbook_options wo{};
    wo.constant_memory = LXW_TRUE;
    wo.tmpdir = tmpdir.data();
    wo.use_zip64 = LXW_FALSE;
    wb.reset(workbook_new_opt(scratch_path.c_str(), &wo));
    if (!wb) throw ExportError(Code::internal, "libxlsxwriter could not create a workbook (out of memory)");
    bold = workbook_add_format(wb.get());
    text = workbook_add_format(wb.get());
    if (!bold || !text) throw ExportError(Code::internal, "libxlsxwriter could not create a format (out of memory)");
    format_set_bold(bold);
    format_set_num_format(text, "@");
    new_sheet();
  }

  void new_sheet() {
    if (ws) end_sheet();
    XlsxIoScope scope(io);
    errno = 0;
    ws = workbook_add_worksheet(wb.get(), nullptr);
    if (!ws)
      throw ExportError(Code::io_error, fmt::format("cannot create a sheet's temporary file in '{}'{}", dir.path(),
                                                    errno ? ": " + error_text(errno) : std::string()));
    sheets.push_back(ws);
    ++sheet_count;
    sheet_row = 0;
    sheet_data = 0;
    widths_set = false;
    widths.assign(columns.size(), 0);
    if (!options.header) return;
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::string &name = columns[c];
      auto *p = reinterpret_cast<const unsigned char *>(name.data());
      const std::string *t = &name;
      if (!clean_text(p, name.size())) {
        repair_text(p, name.size(), repaired);
        t = &repaired;
      }
      // The filter button takes about two characters of the header cell.
      widths[c] = count_chars(t->data(), t->size(), kMeasureMax) + 2;
      if (t->empty()) continue;
      check(worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), t->c_str(), bold), "header");
    }
    worksheet_freeze_panes(ws, 1, 0);
    sheet_row = 1;
  }

  void set_widths() {
    widths_set = true;
    for (size_t c = 0; c < widths.size(); ++c) {
      double w = static_cast<double>(widths[c]) + 2;
      w = w < kMinWidth ? kMinWidth : w > kMaxWidth ? kMaxWidth : w;
      auto col = static_cast<lxw_col_t>(c);
      check(worksheet_set_column(ws, col, col, w, nullptr), "column width");
    }
  }

  void end_sheet() {
    if (!widths_set) set_widths();
    if (options.header)
      check(worksheet_autofilter(ws, 0, 0, static_cast<lxw_row_t>(sheet_row - 1),
                                 static_cast<lxw_col_t>(columns.size() - 1)),
            "autofilter");
  }

  void measure(size_t c, size_t chars) {
    if (!widths_set && chars > widths[c]) widths[c] = chars;
  }

  // A text cell; t is valid UTF-8 without NUL, NUL-terminated at t[n].
  void write_text(size_t c, const char *t, size_t n, int64_t run_row, const char *what) {
    auto row = static_cast<lxw_row_t>(sheet_row);
    auto col = static_cast<lxw_col_t>(c);
    if (n == 0) {
      check(worksheet_write_blank(ws, row, col, text), "empty text");
      return;
    }
    size_t chars = n <= kXlsxMaxText ? n : count_chars(t, n, kXlsxMaxText);
    if (chars > kXlsxMaxText) {
      size_t all = count_chars(t, n, SIZE_MAX - 1);
      throw ExportError(Code::invalid_request,
                        fmt::format("row {}, column '{}': {} of {} characters does not fit in an xlsx cell, which "
                                    "holds at most {} (Excel's limit); shorten it in a SELECT source (substr()) or "
                                    "export this data as csv or jsonl",
                                    run_row, columns[c], what, all, kXlsxMaxText));
    }
    if (!widths_set) measure(c, n <= kMeasureMax ? count_chars(t, n, kMeasureMax) : kMeasureMax);
    check(worksheet_write_string(ws, row, col, t, nullptr), "text cell");
  }

  void write_number(size_t c, double v) {
    check(worksheet_write_number(ws, static_cast<lxw_row_t>(sheet_row), static_cast<lxw_col_t>(c), v, nullptr),
          "number cell");
    if (!widths_set) {
      // The library writes the shortest digits that read back as v (USE_DTOA_LIBRARY), as
      // format_real does; a spreadsheet shows at most about as many.
      char buf[kRealTextMax];
      measure(c, format_real(v, buf));
    }
  }

  void write_row(sqlite3_stmt *st, int64_t run_row) {
    if (int err = io.temp_error()) temp_failed(err);  // the disk filled up: stop now
    UseLocale use(locale);
    if (sheet_row >= sheet_rows) new_sheet();
    for (size_t c = 0; c < columns.size(); ++c) {
      int i = static_cast<int>(c);
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: {
          sqlite3_int64 v = sqlite3_column_int64(st, i);
          if (v >= -kXlsxExactInteger && v <= kXlsxExactInteger) {
            write_number(c, static_cast<double>(v));
          } else {
            char buf[32];
            auto r = std::to_chars(buf, buf + sizeof buf - 1, static_cast<long long>(v));
            *r.ptr = '\0';
            write_text(c, buf, static_cast<size_t>(r.ptr - buf), run_row, "an integer");
          }
          break;
        }
        case SQLITE_FLOAT: {
          double v = sqlite3_column_double(st, i);
          if (std::isinf(v)) {
            // No number in a spreadsheet is infinite: the text every format writes for it.
            write_text(c, v > 0 ? "1e999" : "-1e999", v > 0 ? 5 : 6, run_row, "a number");
          } else if (std::isnan(v)) {
            // SQLite stores NaN as NULL: an empty cell.
          } else {
            write_number(c, v);
          }
          break;
        }
        case SQLITE_TEXT: {
          const unsigned char *p = sqlite3_column_text(st, i);
          size_t n = static_cast<size_t>(sqlite3_column_bytes(st, i));
          if (!p) throw ExportError(Code::internal, "out of memory reading a text value");
          if (clean_text(p, n)) {
            write_text(c, reinterpret_cast<const char *>(p), n, run_row, "a text");
          } else {
            repair_text(p, n, repaired);
            write_text(c, repaired.c_str(), repaired.size(), run_row, "a text");
          }
          break;
        }
        case SQLITE_BLOB: {
          const void *p = sqlite3_column_blob(st, i);
          int n = sqlite3_column_bytes(st, i);
          cell.clear();
          append_blob_text(cell, p, n, options.blob);
          write_text(c, cell.c_str(), cell.size(), run_row,
                     options.blob == Options::Blob::hex ? "a BLOB's hex text" : "a BLOB's base64 text");
          break;
        }
        default:
          break;  // NULL: an empty cell
      }
    }
    ++sheet_row;
    ++sheet_data;
    ++rows;
    if (!widths_set && sheet_data >= kXlsxWidthRows) set_widths();
  }

  std::unique_ptr<OutputFile> finish(const std::function<void()> &tick) {
    if (int err = io.temp_error()) temp_failed(err);  // the last rows' writes failed: no packing
    {
      UseLocale use(locale);
      end_sheet();
    }
    // workbook_close packs and frees the workbook, on a helper thread; this one keeps ticking.
    // When a tick throws (the run is stopped: abort, close, lost lease), io.stop() makes the
    // packer's next write fail (ext/xlsx_hooks.h), so it returns within milliseconds.
    lxw_workbook *w = wb.get();
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    lxw_error rc = LXW_NO_ERROR;
    std::string message;
    std::thread packer([&] {
      lxw_error r;
      std::string m;
      {
        UseLocale use(locale);
        XlsxIoScope scope(io);
        take_xlsx_message();
        r = workbook_close(w);
        m = take_xlsx_message();
      }
      std::lock_guard<std::mutex> lock(mu);
      rc = r;
      message = std::move(m);
      done = true;
      cv.notify_all();
    });
    wb.release();  // workbook_close frees it
    std::exception_ptr stopped;
    {
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
        if (stopped) continue;
        lock.unlock();
        try {
          tick();
        } catch (...) {
          stopped = std::current_exception();
          io.stop();
        }
        lock.lock();
      }
    }
    packer.join();
    // A stopped or failed packing leaves the sheets it did not reach open: io closes them when
    // this workbook is destroyed, which the exceptions below lead to.
    if (stopped) std::rethrow_exception(stopped);
    if (int err = io.temp_error()) temp_failed(err);
    if (rc != LXW_NO_ERROR)
      throw ExportError(Code::io_error, fmt::format("cannot write the xlsx file '{}': {} (libxlsxwriter{})",
                                                    dir.full_path(final_name), lxw_strerror(rc),
                                                    message.empty() ? std::string() : ": " + message));
    // Copy the workbook into an atomic, hashed output file.
    struct stat sb {};
    if (fstat(scratch.get(), &sb) != 0)
      throw ExportError(Code::io_error, fmt::format("fstat of the scratch file in '{}': {}", dir.path(), error_text(errno)));
    auto out = std::make_unique<OutputFile>(dir, final_name, tag);
    std::string buf(kCopyChunk, '\0');
    auto size = static_cast<uint64_t>(sb.st_size);
    uint64_t at = 0;
    while (at < size) {
      ssize_t n = pread(scratch.get(), buf.data(), buf.size(), static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw ExportError(Code::io_error, fmt::format("read the scratch file in '{}': {}", dir.path(),
                                                      n < 0 ? error_text(errno) : std::string("unexpected end")));
      out->write(std::string_view(buf.data(), static_cast<size_t>(n)));
      at += static_cast<uint64_t>(n);
      tick();
    }
    scratch.reset();
    out->finish();
    return out;
  }
};

XlsxWorkbook::XlsxWorkbook(OutputDir &dir, std::string final_name, std::string tag, const Options &options,
                           std::vector<std::string> columns, int64_t sheet_rows)
    : impl_(std::make_unique<Impl>(dir, std::move(final_name), std::move(tag), options, std::move(columns),
                                   sheet_rows)) {
  impl_->start();
}

XlsxWorkbook::~XlsxWorkbook() {
  if (impl_ && impl_->wb) {
    // lxw_workbook_free does not close the sheets' temporary files (workbook_close does): close
    // them here, which removes them (they have no name).
    impl_->io.close_open_files();
    for (lxw_worksheet *sheet : impl_->sheets) {
      sheet->optimize_tmpfile = nullptr;
      sheet->file = nullptr;
    }
    UseLocale use(impl_->locale);
    impl_->wb.reset();
  }
}

void XlsxWorkbook::write_row(sqlite3_stmt *stmt, int64_t run_row) { impl_->write_row(stmt, run_row); }
int64_t XlsxWorkbook::rows() const noexcept { return impl_->rows; }
int XlsxWorkbook::sheets() const noexcept { return impl_->sheet_count; }
std::unique_ptr<OutputFile> XlsxWorkbook::finish(const std::function<void()> &tick) { return impl_->finish(tick); }

void write_xlsx(XlsxRun &run, std::vector<std::unique_ptr<OutputFile>> &files, std::vector<int64_t> &part_rows) {
  const Options &o = run.options;
  bool split = o.file_max_rows > 0;
  std::unique_ptr<XlsxWorkbook> book;
  auto start_part = [&] {
    int64_t part = split ? static_cast<int64_t>(files.size()) + 1 : 0;
    book = std::make_unique<XlsxWorkbook>(run.dir, run.name(part), run.tag, o, run.columns, run.sheet_rows);
    part_rows.push_back(0);
  };
  auto end_part = [&] {
    files.push_back(book->finish(run.tick));
    book.reset();
  };
  start_part();
  while (run.step()) {
    if (split && part_rows.back() >= o.file_max_rows) {
      end_part();
      start_part();
    }
    book->write_row(run.stmt, *run.rows + 1);
    ++part_rows.back();
    ++*run.rows;
    if (run.after_row) run.after_row();
    if ((*run.rows & 1023) == 0) run.tick();
  }
  end_part();
}

}  // namespace sqlexport
