// writer.h: formats rows as CSV, TSV or JSON Lines (SPEC sections 6 and 7), appending bytes to
// a buffer. Streaming: it holds no rows, so memory does not grow with the export.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "options.h"

namespace sqlexport {

// The text every format writes for a REAL (see writer.cpp): the shortest that reads back to the
// same double, ".0" appended when it would read as an integer, "1e999"/"-1e999" for infinities.
// Writes at most kRealTextMax bytes to buf (the text is at most 25 of them; the rest is
// scratch); returns the length of the text, or 0 for NaN.
constexpr size_t kRealTextMax = 48;
size_t format_real(double v, char *buf) noexcept;
// The same text, from std::to_chars alone: what format_real is tested against, and what it
// falls back to where the build does not use fmt's Dragonbox (CMakeLists.txt).
size_t format_real_reference(double v, char *buf) noexcept;
// True when format_real takes its digits from fmt's Dragonbox (EXPORT_HAVE_FMT_DRAGONBOX).
bool format_real_uses_dragonbox() noexcept;

// Append a BLOB's bytes as option blob says (uppercase hex or padded base64): the text every
// format writes for a BLOB.
void append_blob_text(std::string &out, const void *data, int bytes, Options::Blob encoding);
// For a byte >= 0x80 at p[0]: the length of the well-formed UTF-8 sequence starting there
// (valid = true), or the length of its maximal invalid subpart, at least 1 (valid = false).
size_t utf8_sequence_length(const unsigned char *p, size_t n, bool &valid) noexcept;

class RowWriter {
 public:
  // columns: output column names, in order (the statement's columns 0..n-1).
  RowWriter(Format format, const Options &options, std::vector<std::string> columns);

  // Append what starts every file: the UTF-8 BOM when options.bom, then for csv/tsv the
  // header line when options.header.
  void begin_file(std::string &out) const;
  // Append the current row of stmt (after sqlite3_step returned SQLITE_ROW) as one line.
  void write_row(sqlite3_stmt *stmt, std::string &out) const;
  // Split formatting from reading, for a thread that formats while another reads:
  // capture_row appends a compact copy of the current row's values to raw (its bytes and
  // numbers, no formatting); write_captured then appends, for every row captured in raw, what
  // write_row would have written. Needs at least one column (columns() > 0).
  void capture_row(sqlite3_stmt *stmt, std::string &raw) const;
  void write_captured(std::string_view raw, std::string &out) const;
  size_t columns() const noexcept { return columns_.size(); }

 private:
  struct Impl;  // the formatting routines (writer.cpp)
  // One value as the formatting routines see it, from a statement or from a captured row.
  struct Val {
    int type = SQLITE_NULL;
    sqlite3_int64 i = 0;
    double d = 0;
    const char *p = nullptr;  // TEXT or BLOB bytes (NULL for an empty BLOB)
    size_t n = 0;
  };
  mutable std::vector<Val> vals_;  // capture_row's scratch (only the capturing thread uses it)
  Format format_;
  Options options_;
  std::vector<std::string> columns_;
  std::vector<unsigned char> force_quote_;  // per column: 1 when its fields are always quoted
  std::vector<std::string> json_keys_;      // per column: "{\"name\":" then ",\"name\":", escaped (jsonl)
  std::array<bool, 256> special_{};         // bytes that make a csv/tsv field quoted: delimiter, '"', CR, LF
  bool numbers_plain_ = false;              // numbers never need quoting (see the constructor)
};

}  // namespace sqlexport
