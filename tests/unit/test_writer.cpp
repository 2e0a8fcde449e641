// test_writer.cpp: RowWriter output, byte for byte, for CSV, TSV and JSON Lines.
//
// Values come from a real in-memory SQLite statement (literals or bound parameters), so each
// storage class reaches the writer exactly as it does in an export. Every rendering also goes
// through capture_row + write_captured and must give the same bytes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.h"
#include "options.h"
#include "writer.h"

using namespace sqlexport;
using namespace std::string_literals;

namespace {

// An in-memory database, closed on destruction.
struct MemDb {
  sqlite3 *db = nullptr;
  MemDb() { REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK); }
  ~MemDb() { sqlite3_close(db); }
  void exec(const char *sql) { REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK); }
};

using Binder = std::function<void(sqlite3_stmt *)>;

// Run sql (parameters set by bind) and return begin_file plus every row as the writer writes them.
std::string render(MemDb &m, Format format, const Options &o, const std::string &sql, const Binder &bind = nullptr) {
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(m.db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  if (bind) bind(stmt);
  std::vector<std::string> cols;
  for (int i = 0; i < sqlite3_column_count(stmt); ++i) cols.emplace_back(sqlite3_column_name(stmt, i));
  RowWriter w(format, o, cols);
  std::string out, captured, raw;
  w.begin_file(out);
  w.begin_file(captured);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    w.write_row(stmt, out);
    w.capture_row(stmt, raw);
  }
  CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(stmt);
  // The other path (values captured on the reading thread, formatted on another) writes the
  // same bytes: every test of this file checks both.
  w.write_captured(raw, captured);
  CHECK(captured == out);
  return out;
}

std::string render(Format format, const Options &o, const std::string &sql, const Binder &bind = nullptr) {
  MemDb m;
  return render(m, format, o, sql, bind);
}

Options tsv_options() {
  Options o;
  o.delimiter = '\t';
  return o;
}
Options no_header() {
  Options o;
  o.header = false;
  return o;
}

uint64_t bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// The text one REAL is written as (csv, no header).
std::string real_text(double v) {
  std::string out = render(Format::csv, no_header(), "SELECT ?1", [v](sqlite3_stmt *s) { sqlite3_bind_double(s, 1, v); });
  REQUIRE(out.size() >= 1);
  REQUIRE(out.back() == '\n');
  out.pop_back();
  return out;
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("writer: REAL edge values are shortest, exact and never look like integers", "[writer]") {
  struct Case {
    double v;
    const char *text;
  };
  const Case cases[] = {
      {-0.0, "-0.0"},        {0.0, "0.0"},           {1e308, "1e+308"},          {5e-324, "5e-324"},
      {0.1, "0.1"},          {1.0 / 3, "0.3333333333333333"}, {2.0, "2.0"},      {-2.5, "-2.5"},
      {100.0, "100.0"},      {1e21, "1e+21"},        {123456789.0, "123456789.0"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
      {INFINITY, "1e999"},   {-INFINITY, "-1e999"},
  };
  for (const auto &c : cases) {
    std::string t = real_text(c.v);
    CAPTURE(c.v, t);
    CHECK(t == c.text);
    CHECK(bits(std::strtod(t.c_str(), nullptr)) == bits(c.v));
  }
}

TEST_CASE("writer: random doubles read back with identical bits", "[writer]") {
  std::mt19937_64 rng(12345);
  MemDb m;
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(m.db, "SELECT ?1", -1, &stmt, nullptr) == SQLITE_OK);
  RowWriter csv(Format::csv, no_header(), {"x"});
  RowWriter jsonl(Format::jsonl, Options{}, {"x"});
  for (int i = 0; i < 20000; ++i) {
    uint64_t b = rng();
    double v;
    std::memcpy(&v, &b, sizeof v);
    if (std::isnan(v)) continue;
    sqlite3_bind_double(stmt, 1, v);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    std::string c, j;
    csv.write_row(stmt, c);
    jsonl.write_row(stmt, j);
    sqlite3_reset(stmt);
    c.pop_back();
    CAPTURE(c);
    REQUIRE(c.find_first_of(".e") != std::string::npos);
    REQUIRE(bits(std::strtod(c.c_str(), nullptr)) == bits(v));
    auto parsed = nlohmann::json::parse(j);
    REQUIRE(parsed["x"].is_number_float());
    REQUIRE(bits(parsed["x"].get<double>()) == bits(v));
  }
  sqlite3_finalize(stmt);
}

// The build chose the path it says: EXPORT_HAVE_FMT_DRAGONBOX is set for this file as for
// ext/writer.cpp (tests/CMakeLists.txt builds these tests twice: with the build's choice in
// unit_tests, and with std::to_chars forced in unit_writer_to_chars).
TEST_CASE("writer: format_real uses the path the build chose", "[writer]") {
  REQUIRE(format_real_uses_dragonbox() == (EXPORT_HAVE_FMT_DRAGONBOX != 0));
}

// format_real lays Dragonbox's digits out itself; it must give std::to_chars' text exactly.
// (Where it falls back to std::to_chars, this compares the fallback with itself; the other
// tests of this file then check the fallback's text.)
TEST_CASE("writer: format_real writes what std::to_chars writes, for millions of doubles", "[writer]") {
  char got[kRealTextMax], want[kRealTextMax];
  size_t checked = 0;
  auto same = [&](double v) {
    size_t g = format_real(v, got), w = format_real_reference(v, want);
    ++checked;
    if (g == w && std::memcmp(got, want, g) == 0) return;
    FAIL_CHECK("value " << std::string(want, w) << " (bits " << bits(v) << ") written as " << std::string(got, g));
  };
  // Around every power of ten (where fixed and scientific swap, and digit counts change).
  for (int k = -325; k <= 308; ++k) {
    double p = std::pow(10.0, k);
    double lo = p, hi = p;
    for (int i = 0; i < 40; ++i) {
      same(lo);
      same(-hi);
      same(hi);
      lo = std::nextafter(lo, 0.0);
      hi = std::nextafter(hi, INFINITY);
    }
    for (int m = 1; m <= 99; ++m) same(m * p);
  }
  // Every power of two and its neighbours: Dragonbox's separate path for a significand of zero
  // bits (the interval around the value is asymmetric there).
  for (int k = -1074; k <= 1023; ++k) {
    double p = std::ldexp(1.0, k);
    for (double v : {p, std::nextafter(p, 0.0), std::nextafter(p, INFINITY)}) {
      same(v);
      same(-v);
    }
  }
  // Integers and decimal fractions such as prices; integral values up to and past 2^53.
  std::mt19937_64 rng(20261126);
  for (int i = 0; i < 300000; ++i) {
    uint64_t k = rng() >> (rng() % 64);
    same(static_cast<double>(k));
    same(static_cast<double>(k) / std::pow(10.0, static_cast<int>(rng() % 23)));
    same(static_cast<double>(k) * std::pow(10.0, static_cast<int>(rng() % 8)));
  }
  for (uint64_t k = (uint64_t{1} << 53) - 2000; k <= (uint64_t{1} << 53) + 2000; ++k) same(static_cast<double>(k));
  // The benchmark's REALs, subnormals, the extremes, then random bit patterns.
  for (int i = 1; i <= 200000; ++i) same(i % 333 == 0 ? -(i * 1e15) / 3.0 : (i * 1.37) / 7.0);
  for (double v : std::initializer_list<double>{5e-324, 2.2250738585072009e-308, 2.2250738585072014e-308, 1.7976931348623157e308, 0.0, -0.0, INFINITY,
                   -INFINITY})
    same(v);
  for (int i = 0; i < 2000000; ++i) {
    uint64_t b = rng();
    double v;
    std::memcpy(&v, &b, sizeof v);
    if (!std::isnan(v)) same(v);
  }
  CHECK(checked > 3000000);
}

TEST_CASE("writer: NaN is written as NULL", "[writer]") {
  // SQLite itself stores NaN as NULL; a bound NaN arrives as NULL.
  Options o = no_header();
  o.null_text = "NA";
  CHECK(render(Format::csv, o, "SELECT ?1", [](sqlite3_stmt *s) { sqlite3_bind_double(s, 1, NAN); }) == "NA\n");
}

TEST_CASE("writer: INTEGER extremes are exact", "[writer]") {
  std::string out = render(Format::csv, Options{},
                           "SELECT 9223372036854775807 AS max, -9223372036854775807 - 1 AS min, 0 AS zero, -1 AS neg");
  CHECK(out == "max,min,zero,neg\n9223372036854775807,-9223372036854775808,0,-1\n");
}

TEST_CASE("writer: csv quoting rules", "[writer]") {
  std::string out = render(Format::csv, Options{},
                           "SELECT 'plain' AS a, 'a,b' AS b, 'say \"hi\"' AS c, 'line' || char(10) || 'break' AS d, "
                           "'cr' || char(13) || 'x' AS e, ' lead' AS f, 'trail ' AS g, '' AS h, NULL AS i, "
                           "'héllo' AS j, 'a' || char(9) || 'b' AS k, 'in ner' AS l");
  CHECK(out ==
        "a,b,c,d,e,f,g,h,i,j,k,l\n"
        "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rx\",\" lead\",\"trail \",\"\",,héllo,a\tb,in ner\n");
}

TEST_CASE("writer: tsv is csv with a tab", "[writer]") {
  std::string out = render(Format::tsv, tsv_options(),
                           "SELECT 'a,b' AS \"x y\", 'a' || char(9) || 'b' AS t, 'q\"' AS q, NULL AS n, '' AS e, 1.5 AS r");
  CHECK(out == "x y\tt\tq\tn\te\tr\na,b\t\"a\tb\"\t\"q\"\"\"\t\t\"\"\t1.5\n");
}

TEST_CASE("writer: empty string and NULL differ", "[writer]") {
  CHECK(render(Format::csv, no_header(), "SELECT NULL UNION ALL SELECT ''") == "\n\"\"\n");
  CHECK(render(Format::csv, no_header(), "SELECT NULL, ''") == ",\"\"\n");
}

TEST_CASE("writer: embedded NUL and 100 KB text", "[writer]") {
  SECTION("NUL in TEXT is copied") {
    std::string text("a\0b", 3);
    std::string out = render(Format::csv, no_header(), "SELECT ?1", [&](sqlite3_stmt *s) {
      sqlite3_bind_text(s, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    });
    CHECK(out == text + "\n");
  }
  SECTION("100 KB with quotes and line breaks") {
    std::string text;
    for (int i = 0; text.size() < 100 * 1024; ++i) text += "row " + std::to_string(i) + " \"q\",\r\n";
    std::string expected = "\"";
    for (char c : text) {
      expected += c;
      if (c == '"') expected += '"';
    }
    expected += "\"\n";
    std::string out = render(Format::csv, no_header(), "SELECT ?1", [&](sqlite3_stmt *s) {
      sqlite3_bind_text(s, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    });
    CHECK(out == expected);
    std::string j = render(Format::jsonl, Options{}, "SELECT ?1 AS t", [&](sqlite3_stmt *s) {
      sqlite3_bind_text(s, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    });
    CHECK(nlohmann::json::parse(j)["t"].get<std::string>() == text);
  }
}

TEST_CASE("writer: null text option", "[writer]") {
  Options o;
  o.null_text = "NULL";
  CHECK(render(Format::csv, o, "SELECT NULL AS a, 'NULL' AS b, 'null' AS c, 'NULLx' AS d") ==
        "a,b,c,d\nNULL,\"NULL\",null,NULLx\n");
  // Any type whose text equals the null text is quoted, so the two stay apart.
  o.null_text = "0";
  CHECK(render(Format::csv, o, "SELECT NULL AS a, 0 AS b, '0' AS c, 0.5 AS d") == "a,b,c,d\n0,\"0\",\"0\",0.5\n");
  o.null_text = "AB";
  CHECK(render(Format::csv, o, "SELECT x'AB' AS a, NULL AS b") == "a,b\n\"AB\",AB\n");
  // The header is quoted by the same rules.
  o.null_text = "a";
  CHECK(render(Format::csv, o, "SELECT 1 AS a, 2 AS b") == "\"a\",b\n1,2\n");
}

TEST_CASE("writer: force_quote", "[writer]") {
  SECTION("all columns, never NULL") {
    Options o;
    o.force_quote_all = true;
    CHECK(render(Format::csv, o, "SELECT 1 AS a, 2.5 AS b, 'x' AS c, NULL AS d, x'0A' AS e, 'q\"' AS f") ==
          "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"\n\"1\",\"2.5\",\"x\",,\"0A\",\"q\"\"\"\n");
  }
  SECTION("named columns, case-insensitive") {
    Options o;
    o.force_quote_columns = {"B", "d"};
    CHECK(render(Format::csv, o, "SELECT 1 AS a, 'x' AS b, 'y' AS c, 7 AS D") == "a,\"b\",c,\"D\"\n1,\"x\",y,\"7\"\n");
  }
}

TEST_CASE("writer: delimiter, line ending, header, bom", "[writer]") {
  SECTION("semicolon and CRLF") {
    Options o;
    o.delimiter = ';';
    o.line_ending = "\r\n";
    CHECK(render(Format::csv, o, "SELECT 'a;b' AS x, 'a,b' AS y UNION ALL SELECT 1, 2") ==
          "x;y\r\n\"a;b\";a,b\r\n1;2\r\n");
  }
  SECTION("a delimiter that numbers and blobs contain") {
    Options o = no_header();
    o.delimiter = '.';
    CHECK(render(Format::csv, o, "SELECT 1.5, 2, 'a.b', 'ab'") == "\"1.5\".2.\"a.b\".ab\n");
    o.delimiter = 'A';
    CHECK(render(Format::csv, o, "SELECT x'AB', x'12'") == "\"AB\"A12\n");
  }
  SECTION("header off") { CHECK(render(Format::csv, no_header(), "SELECT 1 AS a, 2 AS b") == "1,2\n"); }
  SECTION("header names are quoted by the rules") {
    CHECK(render(Format::csv, Options{}, "SELECT 1 AS \"a,b\", 2 AS \" c\", 3 AS \"q\"\"\"") ==
          "\"a,b\",\" c\",\"q\"\"\"\n1,2,3\n");
  }
  SECTION("bom, every format") {
    Options o;
    o.bom = true;
    CHECK(render(Format::csv, o, "SELECT 1 AS a") == "\xEF\xBB\xBF" "a\n1\n");
    CHECK(render(Format::jsonl, o, "SELECT 1 AS a") == "\xEF\xBB\xBF{\"a\":1}\n");
    Options t = tsv_options();
    t.bom = true;
    t.header = false;
    CHECK(render(Format::tsv, t, "SELECT 1, 2") == "\xEF\xBB\xBF" "1\t2\n");
  }
  SECTION("empty result: header only") { CHECK(render(Format::csv, Options{}, "SELECT 1 AS a WHERE 0") == "a\n"); }
  SECTION("jsonl has no header and uses the line ending") {
    Options o;
    o.line_ending = "\r\n";
    CHECK(render(Format::jsonl, o, "SELECT 1 AS a UNION ALL SELECT 2") == "{\"a\":1}\r\n{\"a\":2}\r\n");
  }
}

TEST_CASE("writer: formula_escape", "[writer]") {
  Options o = no_header();
  o.formula_escape = true;
  CHECK(render(Format::csv, o,
               "SELECT '=1+1', '+1', '-1', '@x', char(9) || 'x', char(13) || 'x', 'x=1', -5, -1.5, '', ' =x', '=a,b'") ==
        "'=1+1,'+1,'-1,'@x,'\tx,\"'\rx\",x=1,-5,-1.5,\"\",\" =x\",\"'=a,b\"\n");
  SECTION("quoting rules apply to the prefixed text") {
    Options t = tsv_options();
    t.header = false;
    t.formula_escape = true;
    CHECK(render(Format::tsv, t, "SELECT char(9) || 'x', '=\"'") == "\"'\tx\"\t\"'=\"\"\"\n");
    Options q = no_header();
    q.formula_escape = true;
    q.delimiter = '\'';
    CHECK(render(Format::csv, q, "SELECT '=x', 'y'") == "\"'=x\"'y\n");
    q.delimiter = ',';
    q.null_text = "'=x";
    CHECK(render(Format::csv, q, "SELECT '=x', NULL") == "\"'=x\",'=x\n");
  }
  SECTION("not applied to jsonl, nor without the option") {
    Options j;
    j.formula_escape = true;
    CHECK(render(Format::jsonl, j, "SELECT '=x' AS a") == "{\"a\":\"=x\"}\n");
    CHECK(render(Format::csv, no_header(), "SELECT '=x'") == "=x\n");
  }
}

TEST_CASE("writer: blobs", "[writer]") {
  const std::string sql = "SELECT x'00FF10' AS a, zeroblob(0) AS b, x'FBFF' AS c, x'61' AS d";
  SECTION("hex") {
    CHECK(render(Format::csv, Options{}, sql) == "a,b,c,d\n00FF10,\"\",FBFF,61\n");
    CHECK(render(Format::jsonl, Options{}, sql) == "{\"a\":\"00FF10\",\"b\":\"\",\"c\":\"FBFF\",\"d\":\"61\"}\n");
  }
  SECTION("base64") {
    Options o;
    o.blob = Options::Blob::base64;
    CHECK(render(Format::csv, o, sql) == "a,b,c,d\nAP8Q,\"\",+/8=,YQ==\n");
    CHECK(render(Format::jsonl, o, sql) == "{\"a\":\"AP8Q\",\"b\":\"\",\"c\":\"+/8=\",\"d\":\"YQ==\"}\n");
    o.delimiter = '/';
    o.header = false;
    CHECK(render(Format::csv, o, sql) == "AP8Q/\"\"/\"+/8=\"/YQ==\n");
  }
  SECTION("large blob, both encodings, matches SQLite's hex()") {
    MemDb m;
    std::string out = render(m, Format::csv, no_header(), "SELECT b, hex(b) FROM (SELECT randomblob(70000) AS b)");
    auto comma = out.find(',');
    REQUIRE(comma != std::string::npos);
    CHECK(out.substr(0, comma) == out.substr(comma + 1, out.size() - comma - 2));
    Options o = no_header();
    o.blob = Options::Blob::base64;
    std::string b64 = render(m, Format::csv, o, "SELECT zeroblob(10000000)");
    CHECK(b64.size() == 4 * ((10000000 + 2) / 3) + 1);
    CHECK(b64.substr(0, 8) == "AAAAAAAA");
    CHECK(b64.substr(b64.size() - 5) == "AA==\n");  // 10,000,000 = 3k + 1: two pad characters
  }
}

TEST_CASE("writer: jsonl values and types", "[writer]") {
  std::string out = render(Format::jsonl, Options{},
                           "SELECT 1 AS i, 2.0 AS r, -0.0 AS z, NULL AS n, 'tx' AS t, x'0102' AS b, "
                           "9223372036854775807 AS big, -9223372036854775807 - 1 AS small");
  CHECK(out ==
        "{\"i\":1,\"r\":2.0,\"z\":-0.0,\"n\":null,\"t\":\"tx\",\"b\":\"0102\",\"big\":9223372036854775807,"
        "\"small\":-9223372036854775808}\n");
  auto j = nlohmann::json::parse(out);
  CHECK(j["i"].is_number_integer());
  CHECK(j["r"].is_number_float());
  CHECK(j["r"].get<double>() == 2.0);
  CHECK(std::signbit(j["z"].get<double>()));
  CHECK(j["n"].is_null());
  CHECK(j["big"].get<int64_t>() == INT64_MAX);
  CHECK(j["small"].get<int64_t>() == INT64_MIN);
}

TEST_CASE("writer: jsonl infinities are 1e999", "[writer]") {
  // Valid JSON grammar; Python and JavaScript read it as infinity, strict parsers such as
  // nlohmann::json reject it as out of range (so it is not parsed here).
  CHECK(render(Format::jsonl, Options{}, "SELECT 1e308 * 10 AS p, -1e308 * 10 AS m") == "{\"p\":1e999,\"m\":-1e999}\n");
  CHECK(std::isinf(std::strtod("1e999", nullptr)));
}

TEST_CASE("writer: jsonl string escaping", "[writer]") {
  std::string text = "q\"b\\s/\n\r\t\b\f"s + '\0' + "\x01\x1f\x7f" + "é€😀";
  std::string out = render(Format::jsonl, Options{}, "SELECT ?1 AS s", [&](sqlite3_stmt *s) {
    sqlite3_bind_text(s, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  });
  CHECK(out == "{\"s\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0000\\u0001\\u001F\x7f" "é€😀\"}\n");
  CHECK(nlohmann::json::parse(out)["s"].get<std::string>() == text);
}

TEST_CASE("writer: jsonl replaces invalid UTF-8 by U+FFFD per maximal subpart", "[writer]") {
  const std::string R = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"a\xC3", "a" + R},                          // truncated at the end
      {"\xC3(", R + "("},                          // bad continuation
      {"\xE2\x82x", R + "x"},                      // truncated 3-byte sequence: one replacement
      {"\xED\xA0\x80", R + R + R},                 // surrogate
      {"\xC0\xAF", R + R},                         // overlong
      {"\xF0\x9F\x98", R},                         // truncated 4-byte sequence
      {"\xF4\x90\x80\x80", R + R + R + R},         // above U+10FFFF
      {"\xFF\xFE", R + R},                         // never valid
      {"\xE0\x80\x80", R + R + R},                 // overlong 3-byte
      {"\xF0\x9F\x98\x80\xF0\x9F", "\xF0\x9F\x98\x80" + R},  // valid then truncated
      {"ok\x80ok", "ok" + R + "ok"},               // lone continuation
  };
  for (const auto &c : cases) {
    std::string out = render(Format::jsonl, Options{}, "SELECT ?1 AS s", [&](sqlite3_stmt *s) {
      sqlite3_bind_text(s, 1, c.in.data(), static_cast<int>(c.in.size()), SQLITE_TRANSIENT);
    });
    CAPTURE(c.in);
    CHECK(out == "{\"s\":\"" + c.out + "\"}\n");
    CHECK_NOTHROW(nlohmann::json::parse(out));
  }
  // In csv the bytes stay as they are.
  CHECK(render(Format::csv, no_header(), "SELECT ?1", [](sqlite3_stmt *s) {
          sqlite3_bind_text(s, 1, "\xC3(", 2, SQLITE_STATIC);
        }) == "\xC3(\n");
}

TEST_CASE("writer: jsonl keys are escaped column names", "[writer]") {
  std::string out = render(Format::jsonl, Options{}, "SELECT 1 AS \"a\"\"b\", 2 AS \"ü\", 3 AS \"t\tab\"");
  CHECK(out == "{\"a\\\"b\":1,\"ü\":2,\"t\\tab\":3}\n");
  auto j = nlohmann::json::parse(out);
  CHECK(j["a\"b"] == 1);
  CHECK(j["ü"] == 2);
}

TEST_CASE("writer: every jsonl line of a table parses back to the same values", "[writer]") {
  MemDb m;
  m.exec("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n)");
  sqlite3_stmt *ins = nullptr;
  REQUIRE(sqlite3_prepare_v2(m.db, "INSERT INTO t VALUES(?1, ?2, ?3, ?4, NULL)", -1, &ins, nullptr) == SQLITE_OK);
  std::mt19937_64 rng(7);
  std::vector<std::string> texts;
  for (int row = 0; row < 500; ++row) {
    std::string s;
    size_t len = rng() % 40;
    for (size_t k = 0; k < len; ++k) {
      static const char *pieces[] = {"a", "\"", "\\", "\n", "\x01", "é", "😀", " ", ",", "\t"};
      s += pieces[rng() % 10];
    }
    texts.push_back(s);
    sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(rng()));
    sqlite3_bind_double(ins, 2, static_cast<double>(rng() % 100000) / 7.0);
    sqlite3_bind_text(ins, 3, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    unsigned char blob[4] = {static_cast<unsigned char>(row), 0, 0xFF, 0x10};
    sqlite3_bind_blob(ins, 4, blob, sizeof blob, SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  Options o;
  o.blob = Options::Blob::base64;
  std::string out = render(m, Format::jsonl, o, "SELECT i, r, s, b, n FROM t ORDER BY rowid");
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 500);
  sqlite3_stmt *q = nullptr;
  REQUIRE(sqlite3_prepare_v2(m.db, "SELECT i, r, s FROM t ORDER BY rowid", -1, &q, nullptr) == SQLITE_OK);
  for (const auto &line : lines) {
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    auto j = nlohmann::json::parse(line);
    CHECK(j.size() == 5);
    CHECK(j["i"].get<int64_t>() == sqlite3_column_int64(q, 0));
    CHECK(bits(j["r"].get<double>()) == bits(sqlite3_column_double(q, 1)));
    CHECK(j["s"].get<std::string>() == reinterpret_cast<const char *>(sqlite3_column_text(q, 2)));
    CHECK(j["n"].is_null());
  }
  sqlite3_finalize(q);
}
