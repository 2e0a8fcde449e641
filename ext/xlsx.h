// xlsx.h: spreadsheet exports (format xlsx), written by libxlsxwriter in its constant-memory
// mode: each row goes to the sheet's temporary file as it is written, so memory stays flat.
//
// Cells are typed: INTEGER and REAL are numbers (an INTEGER beyond +-2^53 is text, so that no
// digit is lost), TEXT is a text cell (never a formula), NULL an empty cell, an empty TEXT an
// empty cell formatted as text ("@"), a BLOB text in the blob option's encoding. The header row
// (option header) is bold and frozen, with an autofilter; column widths come from the header
// and the first 100 rows of each sheet. A sheet holds at most 1,048,576 rows, header included;
// further rows continue on Sheet2, Sheet3, ... of the same workbook (each with the header), and
// option file_max_rows makes numbered parts, each a workbook. docs/REFERENCE.md says more.
//
// Files: libxlsxwriter writes the workbook into an anonymous scratch file inside the output
// folder (O_TMPFILE, or a name created with O_EXCL|O_NOFOLLOW and unlinked at once), reached by
// it through /proc/self/fd/N, and its own temporary files in the folder through
// /proc/self/fd/<folder>; so nothing follows a symlink and nothing is left behind on any
// failure. The finished workbook is then copied into an OutputFile (ext/output.h), which hashes,
// fsyncs and renames it like every other export file.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "options.h"
#include "output.h"

namespace sqlexport {

constexpr int64_t kXlsxSheetRows = 1048576;  // rows of a sheet, header included (Excel's limit)
constexpr int64_t kXlsxMaxColumns = 16384;   // columns of a sheet (Excel's limit)
constexpr size_t kXlsxMaxText = 32767;       // characters of a cell's text (Excel's limit)
constexpr int64_t kXlsxWidthRows = 100;      // data rows of a sheet its column widths are measured on
constexpr int64_t kXlsxExactInteger = int64_t{1} << 53;  // larger INTEGERs are written as text

// One workbook (one file of a run) being written.
class XlsxWorkbook {
 public:
  // Creates the scratch file and the first sheet (with its header row). sheet_rows: rows of a
  // sheet, header included (tests make it small). Throws ExportError: invalid_request for more
  // than 16,384 columns, io_error when a file cannot be created.
  XlsxWorkbook(OutputDir &dir, std::string final_name, std::string tag, const Options &options,
               std::vector<std::string> columns, int64_t sheet_rows = kXlsxSheetRows);
  ~XlsxWorkbook();  // discards everything unless finish() returned; never throws
  XlsxWorkbook(const XlsxWorkbook &) = delete;
  XlsxWorkbook &operator=(const XlsxWorkbook &) = delete;

  // Write the current row of stmt (after sqlite3_step returned SQLITE_ROW), on a new sheet when
  // the current one is full. run_row: the row's 1-based number in the run, for error messages
  // (invalid_request for a text longer than a cell holds, naming row and column).
  void write_row(sqlite3_stmt *stmt, int64_t run_row);
  int64_t rows() const noexcept;  // data rows written
  int sheets() const noexcept;

  // Pack the workbook (libxlsxwriter compresses every sheet into the zip: seconds for a full
  // sheet) on a helper thread while this thread calls tick about every 100 ms (the worker's
  // heartbeat and stop check; when it throws, the packing is waited for, then everything is
  // discarded and the exception goes on). Then copy it into an OutputFile named final_name and
  // finish() that (fsynced, closed, complete under its temporary name). Throws ExportError.
  std::unique_ptr<OutputFile> finish(const std::function<void()> &tick);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What write_xlsx needs from the run executor.
struct XlsxRun {
  OutputDir &dir;
  std::string tag;                                 // the temporary files' tag
  const Options &options;
  std::vector<std::string> columns;                // output column names
  sqlite3_stmt *stmt = nullptr;                    // the run's query, parameters bound
  std::function<bool()> step;                      // steps stmt: true for a row, false at the end
  std::function<std::string(int64_t part)> name;   // the final name of part (0: the only file)
  std::function<void()> tick;                      // every 1024 rows and while packing (may throw)
  std::function<void()> after_row;                 // after each row (tests: a delay); may be empty
  int64_t *rows = nullptr;                         // the run's row count, kept up to date
  int64_t sheet_rows = kXlsxSheetRows;
};

// Write every row of run.stmt into one workbook, or into numbered parts of at most
// options.file_max_rows rows. Appends each part's finished OutputFile to files and its row
// count to part_rows. Throws ExportError (or what step or tick throw).
void write_xlsx(XlsxRun &run, std::vector<std::unique_ptr<OutputFile>> &files, std::vector<int64_t> &part_rows);

}  // namespace sqlexport
