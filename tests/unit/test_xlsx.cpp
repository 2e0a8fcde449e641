// test_xlsx.cpp: the xlsx writer (ext/xlsx.h) and the options of format xlsx: files appear only
// when complete, nothing is left behind (no scratch file, no libxlsxwriter temporary file, no
// descriptor) after a failure or a stop, clear errors for what a cell or a sheet cannot hold, and
// the options xlsx refuses. Cell values are read back by independent readers in
// tests/python/test_xlsx.py (openpyxl, LibreOffice).
#include <catch2/catch.hpp>

#include <dirent.h>
#include <locale.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.h"
#include "errors.h"
#include "options.h"
#include "output.h"
#include "xlsx.h"

using namespace sqlexport;
namespace fs = std::filesystem;

namespace {

struct Folder {
  std::string path;
  Folder() {
    std::string tmpl = (fs::temp_directory_path() / "sqlexport-xlsx-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::set<std::string> entries(const std::string &dir) {
  std::set<std::string> names;
  for (const auto &e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto &e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

struct MemDb {
  sqlite3 *db = nullptr;
  MemDb() { REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK); }
  ~MemDb() { sqlite3_close(db); }
};

struct Query {
  sqlite3_stmt *st = nullptr;
  Query(MemDb &m, const std::string &sql) { REQUIRE(sqlite3_prepare_v2(m.db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK); }
  ~Query() { sqlite3_finalize(st); }
  std::vector<std::string> columns() const {
    std::vector<std::string> c;
    for (int i = 0; i < sqlite3_column_count(st); ++i) c.emplace_back(sqlite3_column_name(st, i));
    return c;
  }
};

std::string series(int64_t n) {
  return "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + std::to_string(n) +
         ") SELECT i AS id, 'row ' || i AS name, i * 0.5 AS half FROM c";
}

// Export sql into dir through write_xlsx; returns the files (finished, not yet published).
std::vector<std::unique_ptr<OutputFile>> export_sql(OutputDir &dir, MemDb &m, const std::string &sql, const Options &o,
                                                    std::vector<int64_t> &part_rows, int64_t sheet_rows,
                                                    std::function<void()> tick = [] {}) {
  Query q(m, sql);
  int64_t rows = 0;
  XlsxRun run{dir, "run-1", o, q.columns(), q.st, [&] { return sqlite3_step(q.st) == SQLITE_ROW; },
              [](int64_t part) { return part ? "t-1-" + std::to_string(part) + ".xlsx" : std::string("t-1.xlsx"); },
              std::move(tick), nullptr, &rows, sheet_rows};
  std::vector<std::unique_ptr<OutputFile>> files;
  write_xlsx(run, files, part_rows);
  return files;
}

std::string error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const ExportError &e) {
    return e.reason();
  }
  return "no error";
}

}  // namespace

TEST_CASE("xlsx: one workbook, published atomically; nothing else is left in the folder", "[xlsx]") {
  Folder f;
  OutputDir dir(f.path);
  MemDb m;
  size_t fds = open_fds();
  Options o;
  o.xlsx = true;
  std::vector<int64_t> part_rows;
  {
    auto files = export_sql(dir, m, series(1000), o, part_rows, kXlsxSheetRows);
    REQUIRE(files.size() == 1);
    CHECK(part_rows == std::vector<int64_t>{1000});
    // Complete under its temporary name: the final name does not exist yet.
    CHECK(entries(f.path) == std::set<std::string>{".t-1.xlsx.run-1.tmp"});
    files[0]->publish();
    CHECK(entries(f.path) == std::set<std::string>{"t-1.xlsx"});
    std::ifstream in(f.path + "/t-1.xlsx", std::ios::binary);
    std::string head(4, '\0');
    in.read(head.data(), 4);
    CHECK(head == std::string("PK\x03\x04", 4));  // a zip archive
    CHECK(files[0]->size_bytes() == fs::file_size(f.path + "/t-1.xlsx"));
    CHECK(files[0]->sha256_hex().size() == 64);
  }
  CHECK(open_fds() == fds);
}

TEST_CASE("xlsx: sheets and parts", "[xlsx]") {
  Folder f;
  OutputDir dir(f.path);
  MemDb m;
  Options o;
  o.xlsx = true;
  SECTION("a full sheet continues on the next one, in the same workbook") {
    Query q(m, series(25));
    XlsxWorkbook book(dir, "s.xlsx", "run-1", o, q.columns(), 10);  // 9 data rows a sheet + header
    int64_t n = 0;
    while (sqlite3_step(q.st) == SQLITE_ROW) book.write_row(q.st, ++n);
    CHECK(book.rows() == 25);
    CHECK(book.sheets() == 3);
    auto file = book.finish([] {});
    file->publish();
    CHECK(entries(f.path) == std::set<std::string>{"s.xlsx"});
  }
  SECTION("without header, a sheet holds sheet_rows data rows") {
    o.header = false;
    Query q(m, series(20));
    XlsxWorkbook book(dir, "s.xlsx", "run-1", o, q.columns(), 10);
    int64_t n = 0;
    while (sqlite3_step(q.st) == SQLITE_ROW) book.write_row(q.st, ++n);
    CHECK(book.sheets() == 2);
  }
  SECTION("file_max_rows makes numbered parts") {
    o.file_max_rows = 4;
    std::vector<int64_t> part_rows;
    auto files = export_sql(dir, m, series(10), o, part_rows, kXlsxSheetRows);
    REQUIRE(files.size() == 3);
    CHECK(part_rows == std::vector<int64_t>{4, 4, 2});
    for (auto &file : files) file->publish();
    CHECK(entries(f.path) == std::set<std::string>{"t-1-1.xlsx", "t-1-2.xlsx", "t-1-3.xlsx"});
  }
  SECTION("an empty export is a workbook with the header alone") {
    std::vector<int64_t> part_rows;
    auto files = export_sql(dir, m, series(1) + " WHERE 0", o, part_rows, kXlsxSheetRows);
    REQUIRE(files.size() == 1);
    CHECK(part_rows == std::vector<int64_t>{0});
  }
}

TEST_CASE("xlsx: what a cell or a sheet cannot hold is a clear error, and leaves nothing", "[xlsx]") {
  Folder f;
  OutputDir dir(f.path);
  MemDb m;
  size_t fds = open_fds();
  Options o;
  o.xlsx = true;
  std::vector<int64_t> part_rows;
  SECTION("a text longer than 32,767 characters") {
    CHECK(error_of([&] {
            export_sql(dir, m, "SELECT 1 AS id, 'x' AS t UNION ALL SELECT 2, printf('%.*c', 32768, 'y')", o, part_rows,
                       kXlsxSheetRows);
          }) == "invalid_request: row 2, column 't': a text of 32768 characters does not fit in an xlsx cell, which "
                "holds at most 32767 (Excel's limit); shorten it in a SELECT source (substr()) or export this data "
                "as csv or jsonl");
  }
  SECTION("32,767 characters fit, counted as characters, not bytes") {
    // 32,767 two-byte characters: 65,534 bytes.
    auto files = export_sql(dir, m, "SELECT replace(printf('%.*c', 32767, 'x'), 'x', 'é') AS t", o, part_rows,
                            kXlsxSheetRows);
    CHECK(files.size() == 1);
  }
  SECTION("a BLOB whose text is too long") {
    o.blob = Options::Blob::base64;
    CHECK(error_of([&] { export_sql(dir, m, "SELECT zeroblob(30000) AS b", o, part_rows, kXlsxSheetRows); }) ==
          "invalid_request: row 1, column 'b': a BLOB's base64 text of 40000 characters does not fit in an xlsx "
          "cell, which holds at most 32767 (Excel's limit); shorten it in a SELECT source (substr()) or export "
          "this data as csv or jsonl");
  }
  SECTION("more than 16,384 columns") {
    Query q(m, "SELECT 1");
    std::vector<std::string> cols(16385, "c");
    CHECK(error_of([&] { XlsxWorkbook book(dir, "s.xlsx", "run-1", o, cols); }) ==
          "invalid_request: this export has 16385 columns; an xlsx sheet holds at most 16384 (Excel's limit)");
  }
  SECTION("a stop while the workbook is packed") {
    int ticks = 0;
    CHECK(error_of([&] {
            export_sql(dir, m, series(3000), o, part_rows, kXlsxSheetRows, [&] {
              if (++ticks == 3) throw ExportError(Code::interrupted, "the export was stopped");
            });
          }) == "interrupted: the export was stopped");
  }
  SECTION("a workbook dropped half-way") {
    Query q(m, series(5000));
    XlsxWorkbook book(dir, "s.xlsx", "run-1", o, q.columns(), 1000);
    int64_t n = 0;
    while (sqlite3_step(q.st) == SQLITE_ROW) book.write_row(q.st, ++n);
    CHECK(book.sheets() == 6);
  }
  CHECK(entries(f.path).empty());
  CHECK(open_fds() == fds);
}

TEST_CASE("xlsx: numbers are written in the C locale whatever the thread's", "[xlsx]") {
  locale_t comma = newlocale(LC_ALL_MASK, "de_DE.UTF-8", static_cast<locale_t>(nullptr));
  if (!comma) comma = newlocale(LC_ALL_MASK, "fr_FR.UTF-8", static_cast<locale_t>(nullptr));
  if (!comma) {
    WARN("no locale with a decimal comma is installed; skipped");
    return;
  }
  locale_t old = uselocale(comma);
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f", 1.5);
  CHECK(std::string(buf) == "1,5");
  Folder f;
  OutputDir dir(f.path);
  MemDb m;
  Options o;
  o.xlsx = true;
  std::vector<int64_t> part_rows;
  auto files = export_sql(dir, m, "SELECT 1.5 AS x", o, part_rows, kXlsxSheetRows);
  uselocale(old);
  freelocale(comma);
  REQUIRE(files.size() == 1);
}

TEST_CASE("xlsx: options that do not apply are refused; at their defaults they are dropped", "[xlsx][options]") {
  std::vector<std::string> cols = {"id", "name"};
  auto refused = [&](const std::string &json_text) {
    return error_of([&] { parse_options(json_text, Format::xlsx, "e", cols); });
  };
  CHECK(refused(R"({"delimiter": ";"})") ==
        "invalid_request: option 'delimiter' does not apply to format xlsx (cells need no delimiter); leave it out");
  CHECK(refused(R"({"null": "NULL"})") ==
        "invalid_request: option 'null' does not apply to format xlsx (a NULL is an empty cell); leave it out");
  CHECK(refused(R"({"force_quote": true})") ==
        "invalid_request: option 'force_quote' does not apply to format xlsx (cells are never quoted); leave it out");
  CHECK(refused(R"({"line_ending": "\r\n"})") ==
        "invalid_request: option 'line_ending' does not apply to format xlsx (an xlsx file has no lines); leave it "
        "out");
  CHECK(refused(R"({"bom": true})") ==
        "invalid_request: option 'bom' does not apply to format xlsx (an xlsx file is not a text file); leave it out");
  CHECK(refused(R"({"formula_escape": true})") ==
        "invalid_request: option 'formula_escape' does not apply to format xlsx (text is always written as a text "
        "cell, never as a formula); leave it out");
  CHECK(refused(R"({"compression": "gzip"})") ==
        "invalid_request: option 'compression' does not apply to format xlsx (an xlsx file is already a zip "
        "archive; compression_level sets how hard it is compressed); leave it out");
  // compression_level is the level of the workbook's zip: 1 (default) to 9.
  CHECK(refused(R"({"compression_level": 0})") ==
        "invalid_request: option 'compression_level' must be between 1 and 9 for xlsx (how hard the workbook's zip "
        "is compressed), not 0");
  CHECK(refused(R"({"compression_level": 10})") ==
        "invalid_request: option 'compression_level' must be between 1 and 9 for xlsx (how hard the workbook's zip "
        "is compressed), not 10");
  CHECK(refused(R"({"compression_level": "9"})") ==
        "invalid_request: option 'compression_level' must be between 1 and 9 for xlsx (how hard the workbook's zip "
        "is compressed), not \"9\"");
  CHECK(parse_options("", Format::xlsx, "e", cols).compression_level == 1);
  CHECK(parse_options(R"({"compression_level": 9})", Format::xlsx, "e", cols).compression_level == 9);
  CHECK(parse_options(R"({"compression_level": 9})", Format::xlsx, "e", cols).to_json()["compression_level"] == 9);
  CHECK_FALSE(parse_options(R"({"compression_level": 1})", Format::xlsx, "e", cols).to_json().contains("compression_level"));
  CHECK(refused(R"({"file_max_bytes": 1000000})") ==
        "invalid_request: option 'file_max_bytes' does not apply to format xlsx (the size of a zip archive is known "
        "only once it is complete; use file_max_rows); leave it out");
  // What a csv or tsv definition shows by default is accepted, and not shown for xlsx.
  auto csv = parse_options("", Format::csv, "e", cols).to_json();
  auto tsv = parse_options("", Format::tsv, "e", cols).to_json();
  auto x1 = parse_options(csv.dump(), Format::xlsx, "e", cols).to_json();
  auto x2 = parse_options(tsv.dump(), Format::xlsx, "e", cols).to_json();
  auto x3 = parse_options("", Format::xlsx, "e", cols).to_json();
  CHECK(x1 == x3);
  CHECK(x2 == x3);
  for (const auto &r : xlsx_refused_options()) CHECK_FALSE(x3.contains(r.name));
  CHECK(x3.contains("header"));
  CHECK(x3.contains("blob"));
  CHECK(x3.contains("file_max_rows"));
  // Shown options written back give the same options.
  CHECK(parse_options(x3.dump(), Format::xlsx, "e", cols).to_json() == x3);
  CHECK(parse_options(R"({"header": false, "blob": "base64", "file_max_rows": 10})", Format::xlsx, "e", cols)
            .to_json()["blob"] == "base64");
  CHECK(error_of([] { parse_format("XLSX"); }) ==
        "invalid_request: format 'XLSX' is not supported; expected csv, tsv, jsonl or xlsx");
  CHECK(parse_format("xlsx") == Format::xlsx);
  CHECK(std::string(format_extension(Format::xlsx)) == "xlsx");
}
