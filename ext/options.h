// options.h: the options of a definition (SPEC section 6), parsed and validated from JSON,
// and shown back with every default filled in.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress.h"

namespace sqlexport {

enum class Format { csv, tsv, jsonl, xlsx };

constexpr int kXlsxDefaultZipLevel = 1;  // an xlsx workbook's zip: zlib level 1 (fastest)
constexpr int kXlsxMaxZipLevel = 9;

// Parse "csv", "tsv", "jsonl" or "xlsx"; throws ExportError(invalid_request) naming the value.
Format parse_format(const std::string &text);
const char *format_name(Format f) noexcept;
// File extension without the dot: "csv", "tsv", "jsonl", "xlsx".
const char *format_extension(Format f) noexcept;

struct OrderKey {
  std::string column;  // as spelled in the source
  bool desc = false;
};

// One summary of a pivot: an aggregate over the rows of a group.
struct PivotSummary {
  std::string aggregator;  // cnt, cnt_distinct, sum, avg, min, max
  std::string column;      // source spelling; empty for cnt of rows
  std::string name;        // output name: "as", else "<aggregator>_<column>", "_cnt" for rows
};

// The pivot option: group rows by fields, one summary column per summary (and, with column,
// per distinct value of column). See docs/REFERENCE.md "Pivot exports".
struct Pivot {
  std::vector<std::string> fields;  // source spelling, group-by order; may be empty (one row)
  std::string column;               // empty: no column pivot
  std::vector<PivotSummary> summaries;
  std::string sort;                 // empty: by the fields; else a field or a summary name
  int sort_summary = -1;            // index into summaries when sort names a summary
  bool sort_desc = false;
};

struct Options {
  bool header = true;
  char delimiter = ',';  // tsv: '\t'
  std::string null_text;
  bool force_quote_all = false;
  std::vector<std::string> force_quote_columns;  // source spelling
  std::string line_ending = "\n";
  enum class Blob { hex, base64 } blob = Blob::hex;
  bool bom = false;
  bool formula_escape = false;
  std::vector<OrderKey> order_by;  // empty: the default order (rowid, or every column)
  int64_t max_rows = 0;
  int64_t file_max_rows = 0;
  int64_t file_max_bytes = 0;
  using Compression = sqlexport::Compression;
  Compression compression = Compression::none;
  // Set to the codec's default when compression is given without one. For xlsx, the level of
  // the workbook's zip (deflate, 1 to 9, default 1).
  int compression_level = 0;
  Codec codec() const noexcept { return {compression, compression_level}; }
  int64_t expires_days = 60;
  std::string output_name;  // filled with the definition's name when not given
  bool exclusive = true;
  std::string date_column;  // empty: none
  std::optional<Pivot> pivot;
  int64_t pivot_max_columns = 1000;  // most distinct values of pivot.column a run accepts
  std::string schedule;  // normalised text of option "schedule" (schedule.h); empty: none
  // Option "incremental": the column whose watermark bounds each run (source spelling, or
  // "rowid"); empty: none. See plan_run.
  std::string incremental_column;
  // xlsx: to_json() leaves out the options that do not apply to it (see xlsx_refused_options).
  bool xlsx = false;

  // Every option with its value, defaults included, as stored in exports.options.
  nlohmann::json to_json() const;
};

// Parse and validate options JSON text (empty or "null": all defaults). columns are the
// source's columns, against which force_quote, order_by and date_column are checked.
// Throws ExportError(invalid_request) with a message naming the option and what is accepted.
Options parse_options(const std::string &json_text, Format format, const std::string &definition_name,
                      const std::vector<std::string> &columns);

// The options that format xlsx refuses (given with a value other than their csv/tsv default),
// with why: delimiter, null, force_quote, line_ending, bom, formula_escape, compression,
// compression_level, file_max_bytes.
struct RefusedOption {
  const char *name;
  const char *why;
};
const std::vector<RefusedOption> &xlsx_refused_options();

// Find name among columns, ignoring ASCII case as SQLite does; returns the index or -1.
int find_column(const std::vector<std::string> &columns, const std::string &name);
// "a, b, c": the column list used in error messages.
std::string join_names(const std::vector<std::string> &names);

}  // namespace sqlexport
