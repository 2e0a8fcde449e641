// test_criteria.cpp: compile_criteria (criteria.cpp) checked three ways: the exact SQL text and
// params it produces, the rows the compiled condition selects from a real in-memory table
// compared with a hand-written query over the same rows, and the exact text of every error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "criteria.h"
#include "errors.h"
#include "util.h"

using nlohmann::json;
using sqlexport::compile_criteria;
using sqlexport::CompiledCriteria;
using sqlexport::ExportError;

namespace {

using Ids = std::vector<int64_t>;

const std::vector<std::string> kColumns = {"id", "name", "qty", "price", "note", "created_at", "flag", "we\"ird"};
const char *const kColumnList = "id, name, qty, price, note, created_at, flag, we\"ird";
const char *const kOperatorList =
    "IS_EQUAL_TO, IS_NOT_EQUAL_TO, IS_GREATER_THAN, IS_GREATER_THAN_OR_EQUAL_TO, IS_LESS_THAN, "
    "IS_LESS_THAN_OR_EQUAL_TO, IS_BEFORE, IS_AFTER, IS_BETWEEN, IS_IN, IS_NOT_IN, CONTAINS, DOES_NOT_CONTAIN, "
    "STARTS_WITH, DOES_NOT_START_WITH, ENDS_WITH, IS_EMPTY, IS_NOT_EMPTY";

const char *const kSchema = R"sql(
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, note TEXT, created_at TEXT,
               flag INTEGER, "we""ird" TEXT);
INSERT INTO t VALUES
 (1, 'apple', 5, 1.5, 'red fruit', '2026-04-01T00:00:00Z', 1, 'x'),
 (2, 'Banana', 12, 0.25, NULL, '2026-04-15T12:30:00Z', 0, NULL),
 (3, 'cherry', NULL, 3.0, '', '2026-04-30T23:59:59Z', 1, ''),
 (4, NULL, 0, NULL, '50% off', '2026-05-01T00:00:00Z', NULL, 'y'),
 (5, '', -3, 2.5, 'a_b', '2026-03-31T23:59:59Z', 0, NULL),
 (6, 'APPLE pie', 7, 10.0, 'back\slash', '2026-04-10', 1, NULL),
 (7, 'o''brien; DROP TABLE t; --', 1, 1.0, ') OR 1=1 --', NULL, 0, 'x"y'),
 (8, 'ümlaut Äpfel', 100, 99.99, '%', '2026-04-20T08:00:00.123Z', 1, NULL),
 (9, '12', 12, 12.0, '_', '2026-04-05T00:00:00Z', 0, NULL),
 (10, 'apple', 5, 1.5, 'Red Fruit', '2026-04-02T00:00:00Z', 1, '?'),
 (11, 'pine%apple_x', 3, 0.5, 'a\b%c_d', '2026-04-30', 0, NULL),
 (12, '"quoted"', 9223372036854775807, -1.0, ' ', '2026-04-30T00:00:00', 1, NULL);
)sql";

// An in-memory database holding table t (kSchema) for the whole test run.
sqlite3 *db() {
  static sqlite3 *handle = [] {
    sqlite3 *h = nullptr;
    REQUIRE(sqlite3_open(":memory:", &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, kSchema, nullptr, nullptr, nullptr) == SQLITE_OK);
    return h;
  }();
  return handle;
}

// Bind one JSON scalar with its own type: string, integer, real, boolean as 1/0, null.
void bind_value(sqlite3_stmt *st, int i, const json &v) {
  int rc = SQLITE_MISUSE;
  if (v.is_string()) {
    const auto &s = v.get_ref<const std::string &>();
    rc = sqlite3_bind_text64(st, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (v.is_boolean()) {
    rc = sqlite3_bind_int64(st, i, v.get<bool>() ? 1 : 0);
  } else if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    rc = u > static_cast<uint64_t>(INT64_MAX) ? sqlite3_bind_double(st, i, static_cast<double>(u))
                                               : sqlite3_bind_int64(st, i, static_cast<int64_t>(u));
  } else if (v.is_number_integer()) {
    rc = sqlite3_bind_int64(st, i, v.get<int64_t>());
  } else if (v.is_number_float()) {
    rc = sqlite3_bind_double(st, i, v.get<double>());
  } else if (v.is_null()) {
    rc = sqlite3_bind_null(st, i);
  }
  REQUIRE(rc == SQLITE_OK);
}

// The ids of t's rows that `where` (with params bound in order) selects, in id order.
Ids select_ids(const std::string &where, const json &params) {
  std::string sql = "SELECT id FROM t" + (where.empty() ? std::string() : " WHERE " + where) + " ORDER BY id";
  sqlite3_stmt *st = nullptr;
  const char *tail = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(db(), sql.c_str(), -1, &st, &tail) == SQLITE_OK);
  CHECK(*tail == '\0');
  REQUIRE(sqlite3_bind_parameter_count(st) == static_cast<int>(params.size()));
  for (size_t i = 0; i < params.size(); ++i) bind_value(st, static_cast<int>(i) + 1, params[i]);
  Ids ids;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(st, 0));
  CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(st);
  return ids;
}

// The ids selected by a hand-written condition over t.
Ids ref(const std::string &where) { return select_ids(where, json::array()); }

CompiledCriteria compile(const json &criteria, const std::string &date_column = "created_at") {
  return compile_criteria(criteria, kColumns, date_column);
}

CompiledCriteria compile(const std::string &text, const std::string &date_column = "created_at") {
  return compile(json::parse(text), date_column);
}

CompiledCriteria compile(const char *text, const std::string &date_column = "created_at") {
  return compile(std::string(text), date_column);
}

// The ids that the criteria select.
Ids run(const json &criteria) {
  CompiledCriteria c = compile(criteria);
  return select_ids(c.where, c.params);
}

Ids run(const std::string &text) { return run(json::parse(text)); }
Ids run(const char *text) { return run(std::string(text)); }

// The message of the ExportError that compiling throws (checked to be invalid_request).
std::string error_of(const json &criteria, const std::string &date_column = "created_at") {
  try {
    compile_criteria(criteria, kColumns, date_column);
  } catch (const ExportError &e) {
    CHECK(e.code() == sqlexport::Code::invalid_request);
    return e.what();
  }
  return "(no error)";
}

std::string error_of(const std::string &text, const std::string &date_column = "created_at") {
  return error_of(json::parse(text), date_column);
}

std::string error_of(const char *text, const std::string &date_column = "created_at") {
  return error_of(std::string(text), date_column);
}

// One condition as JSON text.
std::string cond(const std::string &attribute, const std::string &op, const json &value) {
  if (op == "IS_EMPTY" || op == "IS_NOT_EMPTY") return json{{"attribute", attribute}, {"operator", op}}.dump();
  return json{{"attribute", attribute}, {"operator", op}, {"value", value}}.dump();
}

// Compile a one-condition list and check its SQL, params and rows against a hand-written query.
void check_condition(const std::string &attribute, const std::string &op, const json &value,
                     const std::string &expected_sql, const json &expected_params, const std::string &reference) {
  json crit = json::array({json{{"attribute", attribute}, {"operator", op}, {"value", value}}});
  INFO(crit.dump());
  CompiledCriteria c = compile(crit);
  CHECK(c.where == expected_sql);
  CHECK(c.params == expected_params);
  CHECK(select_ids(c.where, c.params) == ref(reference));
}

// The number of `?` outside string literals and quoted identifiers.
size_t placeholders(const std::string &sql) {
  size_t n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote just closes and reopens
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("criteria: null, {}, empty lists and empty groups match every row", "[criteria]") {
  for (const char *text : {"null", "{}", "[]", "[[]]", "[[], \"OR\", []]", R"({"logical": "AND", "items": []})",
                           R"({"logical": "OR", "items": []})", R"([{"logical": "OR", "items": [[], []]}])"}) {
    INFO(text);
    CompiledCriteria c = compile(text);
    CHECK(c.where.empty());
    CHECK(c.params == json::array());
    CHECK(run(text) == ref("1"));
  }
  CHECK_FALSE(sqlexport::criteria_given(json()));
  CHECK_FALSE(sqlexport::criteria_given(json::object()));
  CHECK(sqlexport::criteria_given(json::array()));
  CHECK(sqlexport::criteria_given(json::parse(R"({"logical": "AND", "items": []})")));
  CHECK(sqlexport::criteria_given(json::parse("[{\"attribute\": \"id\", \"operator\": \"IS_EMPTY\"}]")));
}

TEST_CASE("criteria: IS_EQUAL_TO and IS_NOT_EQUAL_TO", "[criteria]") {
  check_condition("name", "IS_EQUAL_TO", "apple", R"(("name" = ?))", {"apple"}, "name = 'apple'");
  check_condition("NAME", "IS_EQUAL_TO", "apple", R"(("name" = ?))", {"apple"}, "name = 'apple'");
  check_condition("qty", "IS_EQUAL_TO", 12, R"(("qty" = ?))", {12}, "qty = 12");
  check_condition("qty", "IS_EQUAL_TO", 9223372036854775807LL, R"(("qty" = ?))", {9223372036854775807LL},
                  "qty = 9223372036854775807");
  check_condition("qty", "IS_EQUAL_TO", -3, R"(("qty" = ?))", {-3}, "qty = -3");
  check_condition("price", "IS_EQUAL_TO", 1.5, R"(("price" = ?))", {1.5}, "price = 1.5");
  check_condition("price", "IS_EQUAL_TO", 12, R"(("price" = ?))", {12}, "price = 12.0");
  check_condition("name", "IS_EQUAL_TO", 12, R"(("name" = ?))", {12}, "name = '12'");  // TEXT affinity
  check_condition("qty", "IS_EQUAL_TO", "12", R"(("qty" = ?))", {"12"}, "qty = 12");   // INTEGER affinity
  check_condition("flag", "IS_EQUAL_TO", true, R"(("flag" = ?))", {true}, "flag = 1");
  check_condition("flag", "IS_EQUAL_TO", false, R"(("flag" = ?))", {false}, "flag = 0");
  check_condition("note", "IS_EQUAL_TO", nullptr, R"(("note" IS ?))", {nullptr}, "note IS NULL");
  check_condition("note", "IS_EQUAL_TO", "", R"(("note" = ?))", {""}, "note = ''");
  check_condition("we\"ird", "IS_EQUAL_TO", "x", R"(("we""ird" = ?))", {"x"}, R"("we""ird" = 'x')");
  check_condition("name", "IS_EQUAL_TO", "Apple", R"(("name" = ?))", {"Apple"}, "name = 'Apple'");  // exact case

  check_condition("name", "IS_NOT_EQUAL_TO", "apple", R"(("name" IS NOT ?))", {"apple"},
                  "name IS NULL OR name <> 'apple'");
  check_condition("qty", "IS_NOT_EQUAL_TO", 5, R"(("qty" IS NOT ?))", {5}, "qty IS NULL OR qty <> 5");
  check_condition("flag", "IS_NOT_EQUAL_TO", true, R"(("flag" IS NOT ?))", {true}, "flag IS NULL OR flag <> 1");
  check_condition("note", "IS_NOT_EQUAL_TO", nullptr, R"(("note" IS NOT ?))", {nullptr}, "note IS NOT NULL");
  CHECK(ref("name IS NULL OR name <> 'apple'").size() == 10);
}

TEST_CASE("criteria: ordering comparisons and IS_BEFORE / IS_AFTER", "[criteria]") {
  check_condition("qty", "IS_GREATER_THAN", 5, R"(("qty" > ?))", {5}, "qty > 5");
  check_condition("qty", "IS_GREATER_THAN_OR_EQUAL_TO", 5, R"(("qty" >= ?))", {5}, "qty >= 5");
  check_condition("qty", "IS_LESS_THAN", 5, R"(("qty" < ?))", {5}, "qty < 5");
  check_condition("qty", "IS_LESS_THAN_OR_EQUAL_TO", 5, R"(("qty" <= ?))", {5}, "qty <= 5");
  check_condition("price", "IS_GREATER_THAN", 1.5, R"(("price" > ?))", {1.5}, "price > 1.5");
  check_condition("price", "IS_LESS_THAN_OR_EQUAL_TO", 0.5, R"(("price" <= ?))", {0.5}, "price <= 0.5");
  check_condition("name", "IS_LESS_THAN", "b", R"(("name" < ?))", {"b"}, "name < 'b'");
  check_condition("name", "IS_GREATER_THAN_OR_EQUAL_TO", "apple", R"(("name" >= ?))", {"apple"}, "name >= 'apple'");
  check_condition("flag", "IS_GREATER_THAN", false, R"(("flag" > ?))", {false}, "flag > 0");
  check_condition("created_at", "IS_BEFORE", "2026-04-10", R"(("created_at" < ?))", {"2026-04-10"},
                  "created_at < '2026-04-10'");
  check_condition("created_at", "IS_AFTER", "2026-04-15T12:30:00Z", R"(("created_at" > ?))",
                  {"2026-04-15T12:30:00Z"}, "created_at > '2026-04-15T12:30:00Z'");
  check_condition("qty", "IS_BEFORE", 7, R"(("qty" < ?))", {7}, "qty < 7");
  check_condition("qty", "IS_AFTER", 7, R"(("qty" > ?))", {7}, "qty > 7");
}

TEST_CASE("criteria: IS_BETWEEN is inclusive", "[criteria]") {
  check_condition("qty", "IS_BETWEEN", json::array({0, 12}), R"(("qty" BETWEEN ? AND ?))", {0, 12},
                  "qty >= 0 AND qty <= 12");
  check_condition("qty", "IS_BETWEEN", json::array({5, 5}), R"(("qty" BETWEEN ? AND ?))", {5, 5}, "qty = 5");
  check_condition("qty", "IS_BETWEEN", json::array({-5, 1}), R"(("qty" BETWEEN ? AND ?))", {-5, 1},
                  "qty >= -5 AND qty <= 1");
  check_condition("price", "IS_BETWEEN", json::array({1, 2.5}), R"(("price" BETWEEN ? AND ?))", {1, 2.5},
                  "price >= 1 AND price <= 2.5");
  check_condition("price", "IS_BETWEEN", json::array({0.25, 3.0}), R"(("price" BETWEEN ? AND ?))", {0.25, 3.0},
                  "price >= 0.25 AND price <= 3.0");
  check_condition("created_at", "IS_BETWEEN", json::array({"2026-04-01", "2026-04-30T23:59:59Z"}),
                  R"(("created_at" BETWEEN ? AND ?))", {"2026-04-01", "2026-04-30T23:59:59Z"},
                  "created_at >= '2026-04-01' AND created_at <= '2026-04-30T23:59:59Z'");
  check_condition("name", "IS_BETWEEN", json::array({"a", "c"}), R"(("name" BETWEEN ? AND ?))", {"a", "c"},
                  "name >= 'a' AND name <= 'c'");
}

TEST_CASE("criteria: IS_IN and IS_NOT_IN", "[criteria]") {
  check_condition("name", "IS_IN", json::array({"apple", "cherry"}), R"(("name" IN (?, ?)))", {"apple", "cherry"},
                  "name IN ('apple', 'cherry')");
  check_condition("qty", "IS_IN", json::array({5}), R"(("qty" IN (?)))", {5}, "qty = 5");
  check_condition("qty", "IS_IN", json::array({5, 12, 1.0}), R"(("qty" IN (?, ?, ?)))", {5, 12, 1.0},
                  "qty IN (5, 12, 1)");
  check_condition("flag", "IS_IN", json::array({true}), R"(("flag" IN (?)))", {true}, "flag = 1");
  check_condition("name", "IS_IN", json::array({nullptr, "apple"}), R"(("name" IS NULL OR "name" IN (?)))",
                  {"apple"}, "name IS NULL OR name = 'apple'");
  check_condition("name", "IS_IN", json::array({nullptr}), R"(("name" IS NULL))", json::array(), "name IS NULL");

  check_condition("name", "IS_NOT_IN", json::array({"apple", "cherry"}),
                  R"(("name" IS NULL OR "name" NOT IN (?, ?)))", {"apple", "cherry"},
                  "name IS NULL OR name NOT IN ('apple', 'cherry')");
  check_condition("qty", "IS_NOT_IN", json::array({5, 12}), R"(("qty" IS NULL OR "qty" NOT IN (?, ?)))", {5, 12},
                  "qty IS NULL OR qty NOT IN (5, 12)");
  check_condition("name", "IS_NOT_IN", json::array({"apple", nullptr}),
                  R"(("name" IS NOT NULL AND "name" NOT IN (?)))", {"apple"},
                  "name IS NOT NULL AND name <> 'apple'");
  check_condition("name", "IS_NOT_IN", json::array({nullptr, nullptr}), R"(("name" IS NOT NULL))", json::array(),
                  "name IS NOT NULL");
}

TEST_CASE("criteria: text operators match %, _ and \\ literally and ignore ASCII case", "[criteria]") {
  const std::string like = R"(("name" LIKE ? ESCAPE '\'))";
  const std::string not_like = R"(("name" IS NULL OR "name" NOT LIKE ? ESCAPE '\'))";
  check_condition("name", "CONTAINS", "pp", like, {"%pp%"}, "name LIKE '%pp%'");
  check_condition("name", "CONTAINS", "PPL", like, {"%PPL%"}, "lower(name) LIKE '%ppl%'");
  check_condition("name", "CONTAINS", "%", like, {"%\\%%"}, "instr(name, '%') > 0");
  check_condition("name", "CONTAINS", "e_x", like, {"%e\\_x%"}, "instr(name, 'e_x') > 0");
  check_condition("name", "CONTAINS", "", like, {"%%"}, "name IS NOT NULL");
  check_condition("name", "CONTAINS", "'; DROP TABLE t; --", like, {"%'; DROP TABLE t; --%"},
                  "instr(name, '''; DROP TABLE t; --') > 0");
  check_condition("note", "CONTAINS", "\\", R"(("note" LIKE ? ESCAPE '\'))", {"%\\\\%"}, "instr(note, '\\') > 0");
  check_condition("note", "CONTAINS", "a\\b%c_", R"(("note" LIKE ? ESCAPE '\'))", {"%a\\\\b\\%c\\_%"},
                  "instr(note, 'a\\b%c_') > 0");
  check_condition("note", "CONTAINS", "_", R"(("note" LIKE ? ESCAPE '\'))", {"%\\_%"}, "instr(note, '_') > 0");
  // Only ASCII letters fold: 'Äpfel' matches itself, not 'äpfel'.
  check_condition("name", "CONTAINS", "Äpfel", like, {"%Äpfel%"}, "instr(name, 'Äpfel') > 0");
  check_condition("name", "CONTAINS", "äpfel", like, {"%äpfel%"}, "instr(name, 'äpfel') > 0");
  CHECK(ref("instr(name, 'äpfel') > 0").empty());

  check_condition("name", "DOES_NOT_CONTAIN", "apple", not_like, {"%apple%"},
                  "name IS NULL OR lower(name) NOT LIKE '%apple%'");
  check_condition("note", "DOES_NOT_CONTAIN", "%", R"(("note" IS NULL OR "note" NOT LIKE ? ESCAPE '\'))", {"%\\%%"},
                  "note IS NULL OR instr(note, '%') = 0");

  check_condition("name", "STARTS_WITH", "app", like, {"app%"}, "lower(substr(name, 1, 3)) = 'app'");
  check_condition("name", "STARTS_WITH", "pine%", like, {"pine\\%%"}, "substr(name, 1, 5) = 'pine%'");
  check_condition("note", "STARTS_WITH", "50%", R"(("note" LIKE ? ESCAPE '\'))", {"50\\%%"},
                  "substr(note, 1, 3) = '50%'");
  check_condition("name", "DOES_NOT_START_WITH", "app", not_like, {"app%"},
                  "name IS NULL OR lower(substr(name, 1, 3)) <> 'app'");

  check_condition("name", "ENDS_WITH", "PIE", like, {"%PIE"}, "lower(substr(name, -3)) = 'pie'");
  check_condition("name", "ENDS_WITH", "le_x", like, {"%le\\_x"}, "substr(name, -4) = 'le_x'");
  check_condition("note", "ENDS_WITH", "_b", R"(("note" LIKE ? ESCAPE '\'))", {"%\\_b"}, "substr(note, -2) = '_b'");
  check_condition("qty", "ENDS_WITH", "2", R"(("qty" LIKE ? ESCAPE '\'))", {"%2"}, "qty % 10 = 2");
}

TEST_CASE("criteria: IS_EMPTY and IS_NOT_EMPTY", "[criteria]") {
  CompiledCriteria c = compile(R"([{"attribute": "note", "operator": "IS_EMPTY"}])");
  CHECK(c.where == R"(("note" IS NULL OR "note" = ''))");
  CHECK(c.params == json::array());
  CHECK(select_ids(c.where, c.params) == ref("note IS NULL OR note = ''"));
  CHECK(select_ids(c.where, c.params) == Ids{2, 3});

  c = compile(R"([{"attribute": "Note", "operator": "IS_NOT_EMPTY"}])");
  CHECK(c.where == R"(("note" IS NOT NULL AND "note" <> ''))");
  CHECK(c.params == json::array());
  CHECK(select_ids(c.where, c.params) == ref("note IS NOT NULL AND note <> ''"));

  CHECK(run(R"([{"attribute": "qty", "operator": "IS_EMPTY"}])") == ref("qty IS NULL"));
  CHECK(run(R"([{"attribute": "we\"ird", "operator": "IS_EMPTY"}])") == ref(R"("we""ird" IS NULL OR "we""ird" = '')"));
}

TEST_CASE("criteria: date ranges on the date column", "[criteria]") {
  CompiledCriteria c = compile(R"({"date_from_utc": "2026-04-01T00:00:00Z", "date_to_utc": "2026-04-30T23:59:59Z"})");
  CHECK(c.where == R"(("created_at" >= ? AND "created_at" <= ?))");
  CHECK(c.params == json::array({"2026-04-01T00:00:00Z", "2026-04-30T23:59:59Z"}));
  CHECK(select_ids(c.where, c.params) ==
        ref("created_at >= '2026-04-01T00:00:00Z' AND created_at <= '2026-04-30T23:59:59Z'"));

  c = compile(R"({"date_from_utc": "2026-04-15"})", "CREATED_AT");
  CHECK(c.where == R"(("created_at" >= ?))");
  CHECK(c.params == json::array({"2026-04-15"}));
  CHECK(select_ids(c.where, c.params) == ref("created_at >= '2026-04-15'"));

  c = compile(R"({"date_to_utc": "2026-04-10", "date_from_utc": null})");
  CHECK(c.where == R"(("created_at" <= ?))");
  CHECK(select_ids(c.where, c.params) == ref("created_at <= '2026-04-10'"));

  // Equal bounds, fractions and bare dates are accepted; null bounds mean no bound.
  CHECK(run(R"({"date_from_utc": "2026-04-20T08:00:00.123Z", "date_to_utc": "2026-04-20T08:00:00.123Z"})") ==
        Ids{8});
  CHECK(compile(R"({"date_from_utc": "2026-04-30", "date_to_utc": "2026-04-30T00:00:00"})").params.size() == 2);
  CHECK(compile(R"({"date_from_utc": "2024-02-29T23:59:59.123456789", "date_to_utc": null})").params.size() == 1);
  CHECK(compile(R"({"date_from_utc": null, "date_to_utc": null})").where.empty());

  // A date range is accepted anywhere an item is.
  c = compile(R"([{"date_from_utc": "2026-04-01"}, "OR", {"attribute": "qty", "operator": "IS_EMPTY"}])");
  CHECK(c.where == R"((("created_at" >= ?) OR ("qty" IS NULL OR "qty" = '')))");
  CHECK(select_ids(c.where, c.params) == ref("created_at >= '2026-04-01' OR qty IS NULL"));
}

TEST_CASE("criteria: lists with AND/OR, nested lists and groups", "[criteria]") {
  const std::string a = cond("name", "IS_EQUAL_TO", "apple");  // 1, 10
  const std::string b = cond("qty", "IS_GREATER_THAN", 10);     // 2, 8, 9, 12
  const std::string c = cond("flag", "IS_EQUAL_TO", true);      // 1, 3, 6, 8, 10, 12
  const std::string d = cond("note", "IS_EMPTY", nullptr);

  CompiledCriteria r = compile("[" + a + ", " + b + "]");
  CHECK(r.where == R"((("name" = ?) AND ("qty" > ?)))");
  CHECK(r.params == json::array({"apple", 10}));
  CHECK(run("[" + a + ", " + b + "]") == ref("name = 'apple' AND qty > 10"));
  CHECK(run("[" + a + ", \"AND\", " + b + "]") == ref("name = 'apple' AND qty > 10"));

  r = compile("[" + a + ", \"OR\", " + b + "]");
  CHECK(r.where == R"((("name" = ?) OR ("qty" > ?)))");
  CHECK(select_ids(r.where, r.params) == ref("name = 'apple' OR qty > 10"));

  // AND binds tighter than OR; side-by-side items are ANDed.
  r = compile("[" + b + ", \"OR\", " + a + ", \"AND\", " + c + "]");
  CHECK(r.where == R"((("qty" > ?) OR (("name" = ?) AND ("flag" = ?))))");
  CHECK(r.params == json::array({10, "apple", true}));
  CHECK(select_ids(r.where, r.params) == ref("qty > 10 OR (name = 'apple' AND flag = 1)"));
  CHECK(run("[" + b + ", \"OR\", " + a + ", " + c + "]") == ref("qty > 10 OR (name = 'apple' AND flag = 1)"));
  CHECK(run("[" + a + ", " + c + ", \"OR\", " + b + "]") == ref("(name = 'apple' AND flag = 1) OR qty > 10"));

  // Lists inside lists, as the PLM API writes them.
  r = compile("[[" + a + ", \"OR\", " + b + "], " + c + "]");
  CHECK(r.where == R"(((("name" = ?) OR ("qty" > ?)) AND ("flag" = ?)))");
  CHECK(select_ids(r.where, r.params) == ref("(name = 'apple' OR qty > 10) AND flag = 1"));
  CHECK(run("[[" + a + ", " + c + "], \"OR\", [" + b + "]]") == ref("(name = 'apple' AND flag = 1) OR qty > 10"));
  CHECK(compile("[[[" + a + "]]]").where == R"(("name" = ?))");

  // Groups nest to any depth and may hold lists.
  std::string g = R"({"logical": "OR", "items": [)" + a + ", " + b + "]}";
  r = compile(g);
  CHECK(r.where == R"((("name" = ?) OR ("qty" > ?)))");
  CHECK(select_ids(r.where, r.params) == ref("name = 'apple' OR qty > 10"));
  std::string g2 = R"({"logical": "AND", "items": [)" + g + ", " + c + ", [" + d + ", \"OR\", " + a + "]]}";
  r = compile(g2);
  CHECK(r.where ==
        R"(((("name" = ?) OR ("qty" > ?)) AND ("flag" = ?) AND (("note" IS NULL OR "note" = '') OR ("name" = ?))))");
  CHECK(r.params == json::array({"apple", 10, true, "apple"}));
  CHECK(select_ids(r.where, r.params) ==
        ref("(name = 'apple' OR qty > 10) AND flag = 1 AND (note IS NULL OR note = '' OR name = 'apple')"));
  CHECK(run("[" + g2 + ", \"OR\", " + R"({"logical": "AND", "items": [)" + b + "]}]") ==
        ref("((name = 'apple' OR qty > 10) AND flag = 1 AND (note IS NULL OR note = '' OR name = 'apple')) "
            "OR qty > 10"));

  // A group or list that matches every row drops out of an AND and makes an OR match every row.
  r = compile("[" + a + R"(, {"logical": "OR", "items": []}, []])");
  CHECK(r.where == R"(("name" = ?))");
  r = compile(R"({"logical": "OR", "items": [)" + a + R"(, {"logical": "AND", "items": []}]})");
  CHECK(r.where.empty());
  CHECK(r.params == json::array());
  r = compile("[" + a + ", \"OR\", []]");
  CHECK(r.where.empty());

  // A single condition is accepted as the whole criteria too.
  r = compile(a);
  CHECK(r.where == R"(("name" = ?))");
  CHECK(select_ids(r.where, r.params) == ref("name = 'apple'"));
}

TEST_CASE("criteria: values are bound, never pasted, and attributes must be columns", "[criteria]") {
  for (const std::string &evil : std::vector<std::string>{"name\" OR 1=1 --", "name; DROP TABLE t", "name --",
                                                          ") OR 1=1 --", "\"name\"", "name\"", "'name'", "name)",
                                                          "rowid", "t.name", "name ", "*", "name?",
                                                          std::string("name\0x", 6)}) {
    json crit = json::array({json{{"attribute", evil}, {"operator", "IS_EQUAL_TO"}, {"value", 1}}});
    INFO(crit.dump());
    std::string msg = error_of(crit);
    CHECK(msg.rfind("unknown attribute '", 0) == 0);
    CHECK(msg.find(std::string("; columns are ") + kColumnList) != std::string::npos);
  }
  CHECK(error_of(R"([{"attribute": "name\" OR 1=1 --", "operator": "IS_EQUAL_TO", "value": 1}])") ==
        std::string("unknown attribute 'name\" OR 1=1 --' in criteria[0]; columns are ") + kColumnList);
  CHECK(error_of(R"([{"attribute": "name\u0000", "operator": "IS_EQUAL_TO", "value": 1}])") ==
        std::string("unknown attribute 'name\\x00' in criteria[0]; columns are ") + kColumnList);

  for (const char *value : {"o'brien; DROP TABLE t; --", ") OR 1=1 --", "' OR '1'='1", "x\"y", "?", "'", "\"",
                            "; --", "%", "_"}) {
    INFO(value);
    for (const char *attr : {"name", "note", "we\"ird"}) {
      json crit = json::array({json{{"attribute", attr}, {"operator", "IS_EQUAL_TO"}, {"value", value}}});
      CompiledCriteria c = compile(crit);
      CHECK(c.where == "(" + sqlexport::quote_ident(attr) + " = ?)");
      CHECK(c.params == json::array({value}));
      CHECK(placeholders(c.where) == 1);
      Ids got = select_ids(c.where, c.params);
      Ids want;
      sqlite3_stmt *st = nullptr;
      std::string sql = "SELECT id FROM t WHERE " + sqlexport::quote_ident(attr) + " = ?1 ORDER BY id";
      REQUIRE(sqlite3_prepare_v2(db(), sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
      sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
      while (sqlite3_step(st) == SQLITE_ROW) want.push_back(sqlite3_column_int64(st, 0));
      sqlite3_finalize(st);
      CHECK(got == want);
    }
  }
  CHECK(run(R"([{"attribute": "name", "operator": "IS_EQUAL_TO", "value": "o'brien; DROP TABLE t; --"}])") == Ids{7});
  CHECK(run(R"([{"attribute": "note", "operator": "IS_EQUAL_TO", "value": ") OR 1=1 --"}])") == Ids{7});
  CHECK(run(R"([{"attribute": "we\"ird", "operator": "IS_IN", "value": ["x\"y", "?"]}])") == Ids{7, 10});
  CHECK(run(R"([{"attribute": "name", "operator": "CONTAINS", "value": "; DROP"}])") == Ids{7});
  CHECK(ref("1").size() == 12);  // the table is still there, whole
}

TEST_CASE("criteria: errors in the shape of lists and groups", "[criteria]") {
  CHECK(error_of("42") == "criteria must be a JSON array or object (null for every row), not 42");
  CHECK(error_of("\"AND\"") == "criteria must be a JSON array or object (null for every row), not 'AND'");
  CHECK(error_of("true") == "criteria must be a JSON array or object (null for every row), not true");

  const std::string item_msg = " must be a condition, a group, a list or \"AND\"/\"OR\" between items, not ";
  CHECK(error_of("[5]") == "criteria[0]" + item_msg + "5");
  CHECK(error_of("[null]") == "criteria[0]" + item_msg + "null");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_EMPTY"}, "and", []])") == "criteria[1]" + item_msg + "'and'");
  CHECK(error_of(R"([[], [[], "XOR"]])") == "criteria[1][1]" + item_msg + "'XOR'");
  CHECK(error_of(R"({"logical": "AND", "items": [[], "AND", []]})") == "criteria.items[1]" + item_msg + "'AND'");
  CHECK(error_of(R"([{"logical": "AND", "items": [{"logical": "OR", "items": [1.5]}]}])") ==
        "criteria[0].items[0].items[0]" + item_msg + "1.5");

  CHECK(error_of(R"(["OR", []])") == "criteria[0]: \"OR\" cannot start a list; \"AND\" and \"OR\" go between items");
  CHECK(error_of(R"(["AND"])") == "criteria[0]: \"AND\" cannot start a list; \"AND\" and \"OR\" go between items");
  CHECK(error_of(R"([[], "AND"])") == "criteria[1]: \"AND\" cannot end a list; \"AND\" and \"OR\" go between items");
  CHECK(error_of(R"([[], "AND", "OR", []])") ==
        "criteria[2]: \"OR\" cannot follow \"AND\"; \"AND\" and \"OR\" go between items");
  CHECK(error_of(R"([[], [[], "OR", "OR", []]])") ==
        "criteria[1][2]: \"OR\" cannot follow \"OR\"; \"AND\" and \"OR\" go between items");

  const std::string shapes = "expected a condition (attribute, operator, value), a group (logical, items) or a date "
                             "range (date_from_utc, date_to_utc)";
  CHECK(error_of("[{}]") == "criteria[0] is an empty object; " + shapes);
  CHECK(error_of(R"({"logical": "OR", "items": [[], {}]})") == "criteria.items[1] is an empty object; " + shapes);
  CHECK(error_of(R"([{"foo": 1}])") == "unknown key 'foo' in criteria[0]; " + shapes);
  CHECK(error_of(R"({"conditions": []})") == "unknown key 'conditions' in criteria; " + shapes);

  CHECK(error_of(R"({"logical": "AND", "item": []})") == "unknown key 'item' in criteria; expected logical, items");
  CHECK(error_of(R"([{"items": []}])") == "criteria[0] needs \"logical\": \"AND\" or \"OR\"");
  CHECK(error_of(R"({"logical": "AND"})") == "criteria needs \"items\": an array of conditions, groups or lists");
  CHECK(error_of(R"({"logical": "XOR", "items": []})") == "logical in criteria must be \"AND\" or \"OR\", not 'XOR'");
  CHECK(error_of(R"({"logical": "and", "items": []})") == "logical in criteria must be \"AND\" or \"OR\", not 'and'");
  CHECK(error_of(R"({"logical": null, "items": []})") == "logical in criteria must be \"AND\" or \"OR\", not null");
  CHECK(error_of(R"({"logical": "OR", "items": {}})") ==
        "items in criteria must be an array of conditions, groups or lists, not {}");
  CHECK(error_of(R"({"logical": "OR", "items": "a"})") ==
        "items in criteria must be an array of conditions, groups or lists, not 'a'");
}

TEST_CASE("criteria: errors in conditions", "[criteria]") {
  const std::string cols = std::string("; columns are ") + kColumnList;
  CHECK(error_of(R"([{"atribute": "id", "operator": "IS_EMPTY"}])") ==
        "unknown key 'atribute' in criteria[0]; expected attribute, operator, value");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_EMPTY", "logical": "AND"}])") ==
        "unknown key 'logical' in criteria[0]; expected attribute, operator, value");
  CHECK(error_of(R"([{"operator": "IS_EMPTY"}])") == "criteria[0] needs \"attribute\": a column name" + cols);
  CHECK(error_of(R"([{"attribute": 5, "operator": "IS_EMPTY"}])") ==
        "attribute in criteria[0] must be a column name, not 5" + cols);
  CHECK(error_of(R"([[], {"attribute": "totl", "operator": "IS_EMPTY"}])") ==
        "unknown attribute 'totl' in criteria[1]" + cols);
  CHECK(error_of(R"([{"attribute": "id"}])") == "criteria[0] needs \"operator\": one of " + std::string(kOperatorList));
  CHECK(error_of(R"([[], {"attribute": "id", "operator": "EQUALS", "value": 1}])") ==
        "unknown operator 'EQUALS' in criteria[1]; expected one of " + std::string(kOperatorList));
  CHECK(error_of(R"([{"attribute": "id", "operator": "is_equal_to", "value": 1}])") ==
        "unknown operator 'is_equal_to' in criteria[0]; expected one of " + std::string(kOperatorList));
  CHECK(error_of(R"([{"attribute": "id", "operator": 3, "value": 1}])") ==
        "unknown operator 3 in criteria[0]; expected one of " + std::string(kOperatorList));

  struct Case {
    const char *op;
    const char *accepted;
  };
  const Case needs[] = {
      {"IS_EQUAL_TO", "a string, number, boolean or null"},
      {"IS_NOT_EQUAL_TO", "a string, number, boolean or null"},
      {"IS_GREATER_THAN", "a string, number or boolean"},
      {"IS_GREATER_THAN_OR_EQUAL_TO", "a string, number or boolean"},
      {"IS_LESS_THAN", "a string, number or boolean"},
      {"IS_LESS_THAN_OR_EQUAL_TO", "a string, number or boolean"},
      {"IS_BEFORE", "a string, number or boolean"},
      {"IS_AFTER", "a string, number or boolean"},
      {"IS_BETWEEN", "[low, high], two numbers or two strings"},
      {"IS_IN", "a non-empty array of strings, numbers, booleans or nulls"},
      {"IS_NOT_IN", "a non-empty array of strings, numbers, booleans or nulls"},
      {"CONTAINS", "a string"},
      {"DOES_NOT_CONTAIN", "a string"},
      {"STARTS_WITH", "a string"},
      {"DOES_NOT_START_WITH", "a string"},
      {"ENDS_WITH", "a string"},
  };
  for (const auto &c : needs) {
    INFO(c.op);
    json missing = json::array({json{{"attribute", "id"}, {"operator", c.op}}});
    CHECK(error_of(missing) ==
          std::string("criteria[0] needs a value for operator '") + c.op + "': " + c.accepted);
    json wrong = json::array({json{{"attribute", "id"}, {"operator", c.op}, {"value", {{"a", 1}}}}});
    CHECK(error_of(wrong) == std::string("criteria[0]: operator '") + c.op + "' needs " + c.accepted +
                                 ", not {\"a\":1}");
  }
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_EQUAL_TO", "value": [1]}])") ==
        "criteria[0]: operator 'IS_EQUAL_TO' needs a string, number, boolean or null, not [1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_GREATER_THAN", "value": null}])") ==
        "criteria[0]: operator 'IS_GREATER_THAN' needs a string, number or boolean, not null");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_AFTER", "value": [1]}])") ==
        "criteria[0]: operator 'IS_AFTER' needs a string, number or boolean, not [1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "CONTAINS", "value": 5}])") ==
        "criteria[0]: operator 'CONTAINS' needs a string, not 5");
  CHECK(error_of(R"([{"attribute": "id", "operator": "ENDS_WITH", "value": null}])") ==
        "criteria[0]: operator 'ENDS_WITH' needs a string, not null");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_IN", "value": []}])") ==
        "criteria[0]: operator 'IS_IN' needs a non-empty array of strings, numbers, booleans or nulls, not []");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_NOT_IN", "value": [1, [2]]}])") ==
        "criteria[0]: operator 'IS_NOT_IN' needs a non-empty array of strings, numbers, booleans or nulls, not "
        "[1,[2]]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_IN", "value": "a"}])") ==
        "criteria[0]: operator 'IS_IN' needs a non-empty array of strings, numbers, booleans or nulls, not 'a'");

  const std::string between = "criteria[0]: operator 'IS_BETWEEN' needs [low, high], two numbers or two strings, not ";
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [1, "a"]}])") == between + "[1,\"a\"]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [1]}])") == between + "[1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [1, 2, 3]}])") == between + "[1,2,3]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [true, false]}])") ==
        between + "[true,false]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [null, 1]}])") == between + "[null,1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": 1}])") == between + "1");
  const std::string order = "criteria[0]: operator 'IS_BETWEEN' needs low not above high, not ";
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [5, 1]}])") == order + "[5,1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [1.5, 1]}])") == order + "[1.5,1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [0, -1]}])") == order + "[0,-1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [18446744073709551615, 1]}])") ==
        order + "[18446744073709551615,1]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": ["b", "a"]}])") == order + "[\"b\",\"a\"]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": ["a", "B"]}])") == order + "[\"a\",\"B\"]");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": ["é", "z"]}])") == order + "[\"é\",\"z\"]");
  CHECK(compile(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [-1, 18446744073709551615]}])").params ==
        json::parse("[-1, 18446744073709551615]"));
  CHECK(compile(R"([{"attribute": "id", "operator": "IS_BETWEEN", "value": [1, 1.0]}])").params.size() == 2);

  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_EMPTY", "value": null}])") ==
        "criteria[0]: operator 'IS_EMPTY' takes no value; remove \"value\"");
  CHECK(error_of(R"([{"attribute": "id", "operator": "IS_NOT_EMPTY", "value": ""}])") ==
        "criteria[0]: operator 'IS_NOT_EMPTY' takes no value; remove \"value\"");

  CHECK(error_of(R"([{"attribute": "name", "operator": "CONTAINS", "value": "a\u0000b"}])") ==
        "criteria[0]: the value for operator 'CONTAINS' holds a NUL character, which LIKE cannot match");
  json long_value = json::array({json{{"attribute", "name"}, {"operator", "STARTS_WITH"},
                                      {"value", std::string(49999, 'a')}}});
  CHECK(compile(long_value).params[0].get<std::string>().size() == 50000);
  long_value[0]["value"] = std::string(49998, 'a') + "%";
  CHECK(error_of(long_value) ==
        "criteria[0]: the value for operator 'STARTS_WITH' is too long: its LIKE pattern has 50001 bytes, SQLite "
        "allows 50000");

  // Long or odd texts are cut and escaped in messages.
  json long_attr = json::array({json{{"attribute", std::string(100, 'x')}, {"operator", "IS_EMPTY"}}});
  CHECK(error_of(long_attr) == "unknown attribute '" + std::string(80, 'x') + "...' in criteria[0]" + cols);
  json utf8_attr = json::array({json{{"attribute", std::string(79, 'x') + "é"}, {"operator", "IS_EMPTY"}}});
  CHECK(error_of(utf8_attr) == "unknown attribute '" + std::string(79, 'x') + "...' in criteria[0]" + cols);
  CHECK(error_of(R"([{"attribute": "a\nb\tc\u0001", "operator": "IS_EMPTY"}])") ==
        "unknown attribute 'a\\nb\\tc\\x01' in criteria[0]" + cols);
}

TEST_CASE("criteria: errors in date ranges", "[criteria]") {
  CHECK(error_of(R"({"date_from_utc": "2026-04-01"})", "") ==
        "date-range criteria need the option 'date_column' (in criteria)");
  CHECK(error_of(R"([[], {"date_to_utc": "2026-04-01"}])", "") ==
        "date-range criteria need the option 'date_column' (in criteria[1])");
  CHECK(error_of(R"({"date_from_utc": "2026-04-01"})", "nope") ==
        std::string("the option 'date_column' names 'nope', which is not a column of the source; columns are ") +
            kColumnList);
  CHECK(error_of(R"({"date_from_utc": "2026-04-01", "date_to": "2026-04-02"})") ==
        "unknown key 'date_to' in criteria; expected date_from_utc, date_to_utc");
  CHECK(error_of(R"({"date_from_utc": "2026-05-01T00:00:00Z", "date_to_utc": "2026-04-30T23:59:59Z"})") ==
        "invalid_date_range: date_from_utc '2026-05-01T00:00:00Z' is after date_to_utc '2026-04-30T23:59:59Z' in "
        "criteria");
  CHECK(error_of(R"([{"logical": "OR", "items": [{"date_from_utc": "2026-04-30T00:00:00.001", "date_to_utc":
                   "2026-04-30"}]}])") ==
        "invalid_date_range: date_from_utc '2026-04-30T00:00:00.001' is after date_to_utc '2026-04-30' in "
        "criteria[0].items[0]");

  const std::string fmt_msg = " in criteria must be ISO 8601 text: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z], not ";
  for (const char *bad : {"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-4-01", "2026/04/01",
                          "2026-04-01T24:00:00Z", "2026-04-01T10:60:00", "2026-04-01T10:00:60", "2026-04-01T10:00",
                          "2026-04-01 10:00:00", "2026-04-01T10:00:00+02:00", "2026-04-01T10:00:00.Z",
                          "2026-04-01T10:00:00.1234567890", "2026-04-01Z", "2026-04-01t10:00:00", "20260401", "",
                          "2026-04-01T10:00:00ZZ", "x2026-04-01"}) {
    INFO(bad);
    CHECK(error_of(json{{"date_from_utc", bad}}) == "date_from_utc" + fmt_msg + "'" + bad + "'");
    CHECK(error_of(json{{"date_to_utc", bad}}) == "date_to_utc" + fmt_msg + "'" + bad + "'");
  }
  CHECK(error_of(R"({"date_to_utc": 20260401})") == "date_to_utc" + fmt_msg + "20260401");
  for (const char *good : {"2024-02-29", "2000-02-29", "2026-12-31T23:59:59", "2026-01-01T00:00:00Z",
                           "2026-01-01T00:00:00.5", "2026-01-01T00:00:00.123456789Z"}) {
    INFO(good);
    CHECK(compile(json{{"date_from_utc", good}}).params == json::array({good}));
  }
}

namespace {

// A list nested `depth` levels: each level holds `width - 1` conditions, then the next level;
// mixed puts "OR" in the middle of every level.
json nested(int depth, int width, bool mixed) {
  json inner = json::array({json{{"attribute", "qty"}, {"operator", "IS_GREATER_THAN"}, {"value", depth}}});
  for (int level = depth; level >= 1; --level) {
    json list = json::array();
    for (int i = 0; i < width; ++i) {
      if (mixed && i == std::max(1, (width - 1) / 2)) list.push_back("OR");
      if (i + 1 < width)
        list.push_back(json{{"attribute", "id"}, {"operator", "IS_NOT_EQUAL_TO"}, {"value", level * 100 + i}});
      else
        list.push_back(level == depth ? inner[0] : inner);
    }
    inner = std::move(list);
  }
  return inner;
}

// Prepare `where` inside a statement that wraps it the way a caller might, with extra
// parentheses standing in for a bigger statement; true when SQLite accepts it.
bool prepares_in_context(const CompiledCriteria &c, int extra_parens) {
  std::string sql = "WITH s AS (SELECT * FROM t) SELECT * FROM (SELECT * FROM s) WHERE rowid IN (SELECT rowid FROM s "
                    "WHERE " +
                    std::string(static_cast<size_t>(extra_parens), '(') + c.where +
                    std::string(static_cast<size_t>(extra_parens), ')') + ") ORDER BY id LIMIT ?";
  sqlite3_stmt *st = nullptr;
  int rc = sqlite3_prepare_v2(db(), sql.c_str(), -1, &st, nullptr);
  if (rc != SQLITE_OK) UNSCOPED_INFO(sqlite3_errmsg(db()));
  bool ok = rc == SQLITE_OK && sqlite3_bind_parameter_count(st) == static_cast<int>(c.params.size()) + 1;
  sqlite3_finalize(st);
  return ok;
}

}  // namespace

TEST_CASE("criteria: limits", "[criteria]") {
  // 10000 conditions compile and run; one more is refused.
  json many = json::array();
  for (int i = 0; i < 10000; ++i) many.push_back(json{{"attribute", "id"}, {"operator", "IS_NOT_EQUAL_TO"}, {"value", i + 100}});
  CompiledCriteria c = compile(many);
  CHECK(c.params.size() == 10000);
  CHECK(placeholders(c.where) == 10000);
  CHECK(select_ids(c.where, c.params) == ref("1"));
  CHECK(prepares_in_context(c, 20));
  json many_or = json::array();
  for (int i = 0; i < 10000; ++i) {
    if (i) many_or.push_back("OR");
    many_or.push_back(json{{"attribute", "id"}, {"operator", "IS_EQUAL_TO"}, {"value", i % 7}});
  }
  c = compile(many_or);
  CHECK(select_ids(c.where, c.params) == ref("id < 7"));
  many.push_back(json{{"attribute", "id"}, {"operator", "IS_EMPTY"}});
  CHECK(error_of(many) == "criteria hold more than 10000 conditions (at criteria[10000])");
  json many_dates = json::array();
  for (int i = 0; i < 10001; ++i) many_dates.push_back(json{{"date_from_utc", "2026-01-01"}});
  CHECK(error_of(many_dates) == "criteria hold more than 10000 conditions (at criteria[10000])");

  // 30000 values to bind are accepted; one more is refused.
  json in = json::array();
  for (int i = 0; i < 30000; ++i) in.push_back(i);
  json crit = json::array({json{{"attribute", "qty"}, {"operator", "IS_IN"}, {"value", in}}});
  c = compile(crit);
  CHECK(c.params.size() == 30000);
  CHECK(select_ids(c.where, c.params) == ref("qty BETWEEN 0 AND 29999"));
  crit.push_back(json{{"attribute", "qty"}, {"operator", "IS_EQUAL_TO"}, {"value", 1}});
  CHECK(error_of(crit) == "criteria hold more than 30000 values to bind (at criteria[1])");

  // Lists and groups nest 16 levels; the 17th is refused.
  c = compile(nested(16, 2, false));
  CHECK(c.params.size() == 17);
  CHECK(select_ids(c.where, c.params) == ref("qty > 16 AND id NOT IN (100, 200, 300, 400, 500, 600, 700, 800, 900, "
                                             "1000, 1100, 1200, 1300, 1400, 1500, 1600)"));
  CHECK(prepares_in_context(c, 20));
  CHECK(compile(json::parse(std::string(16, '[') + std::string(16, ']'))).where.empty());
  CHECK(error_of(json::parse(std::string(17, '[') + std::string(17, ']'))) ==
        "criteria nest deeper than 16 levels of lists and groups at criteria[0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
        "[0][0]");
  json groups = json::array();
  for (int i = 0; i < 16; ++i) groups = json{{"logical", i % 2 ? "AND" : "OR"}, {"items", json::array({groups})}};
  CHECK(error_of(groups) ==
        "criteria nest deeper than 16 levels of lists and groups at criteria.items[0].items[0].items[0].items[0]."
        "items[0].items[0].items[0].items[0].items[0].items[0].items[0].items[0].items[0].items[0].items[0].items[0]");

  // Deep lists that mix AND and OR at every level overflow SQLite 3.40's parser stack long
  // before 16 levels; they are refused with a clear message instead.
  CHECK(prepares_in_context(compile(nested(9, 4, true)), 20));
  CHECK(error_of(nested(10, 4, true)) ==
        "criteria at criteria are nested too deeply for SQLite's parser; use fewer levels of lists and groups");
}

TEST_CASE("criteria: whatever compiles prepares, even inside a bigger statement", "[criteria]") {
  int accepted = 0, refused = 0;
  for (int depth = 1; depth <= 16; ++depth) {
    for (int width : {2, 3, 4, 9, 65, 66, 130}) {
      for (bool mixed : {false, true}) {
        json crit = nested(depth, width, mixed);
        INFO("depth " << depth << " width " << width << " mixed " << mixed);
        try {
          CompiledCriteria c = compile(crit);
          ++accepted;
          CHECK(placeholders(c.where) == c.params.size());
          CHECK(prepares_in_context(c, 25));
        } catch (const ExportError &e) {
          ++refused;
          CHECK_THAT(e.what(), Catch::Matchers::EndsWith(
                                   "are nested too deeply for SQLite's parser; use fewer levels of lists and groups"));
        }
      }
    }
  }
  CHECK(accepted > 150);
  CHECK(refused > 0);
  // Every unmixed list of width up to 9 is accepted at every depth.
  for (int depth = 1; depth <= 16; ++depth)
    for (int width = 2; width <= 9; ++width) CHECK_NOTHROW(compile(nested(depth, width, false)));
}

namespace {

// A random criteria tree over a pool of conditions, and the ids it must select computed by set
// algebra from the ids each condition selects on its own.
struct RandomCriteria {
  std::mt19937 rng;
  std::vector<json> pool;
  std::vector<std::set<int64_t>> pool_ids;
  std::set<int64_t> all;

  std::set<int64_t> both(const std::set<int64_t> &a, const std::set<int64_t> &b) {
    std::set<int64_t> out;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
    return out;
  }
  std::set<int64_t> either(const std::set<int64_t> &a, const std::set<int64_t> &b) {
    std::set<int64_t> out = a;
    out.insert(b.begin(), b.end());
    return out;
  }

  // A random item nested at most `depth` more levels, with the ids it selects in `ids`.
  json item(int depth, std::set<int64_t> &ids) {
    int kind = static_cast<int>(rng() % (depth > 0 ? 4 : 1));
    if (kind == 0 || kind == 3) {
      size_t k = rng() % pool.size();
      ids = pool_ids[k];
      return pool[k];
    }
    int n = static_cast<int>(rng() % 5);
    if (kind == 1) {  // a list with optional AND/OR strings
      json list = json::array();
      std::set<int64_t> term = all, total;
      bool any_term = false;
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 2) {
          bool is_or = rng() % 2;
          list.push_back(is_or ? "OR" : "AND");
          if (is_or) {
            total = either(total, term);
            any_term = true;
            term = all;
          }
        }
        std::set<int64_t> sub;
        list.push_back(item(depth - 1, sub));
        term = both(term, sub);
      }
      ids = any_term ? either(total, term) : term;
      return list;
    }
    bool is_or = rng() % 2;
    json items = json::array();
    ids = is_or ? std::set<int64_t>() : all;
    for (int i = 0; i < n; ++i) {
      std::set<int64_t> sub;
      items.push_back(item(depth - 1, sub));
      ids = is_or ? either(ids, sub) : both(ids, sub);
    }
    if (n == 0) ids = all;
    return json{{"logical", is_or ? "OR" : "AND"}, {"items", items}};
  }
};

}  // namespace

TEST_CASE("criteria: random compositions select what set algebra says", "[criteria]") {
  RandomCriteria r{std::mt19937(7), {}, {}, {}};
  for (int64_t id : ref("1")) r.all.insert(id);
  const char *const conditions[] = {
      R"({"attribute": "name", "operator": "IS_EQUAL_TO", "value": "apple"})",
      R"({"attribute": "qty", "operator": "IS_GREATER_THAN", "value": 4})",
      R"({"attribute": "note", "operator": "IS_EMPTY"})",
      R"({"attribute": "flag", "operator": "IS_NOT_EQUAL_TO", "value": true})",
      R"({"attribute": "name", "operator": "DOES_NOT_CONTAIN", "value": "p"})",
      R"({"attribute": "price", "operator": "IS_BETWEEN", "value": [0.5, 3]})",
      R"({"attribute": "id", "operator": "IS_NOT_IN", "value": [1, 2, 3, null]})",
      R"({"date_from_utc": "2026-04-05", "date_to_utc": "2026-04-30T23:59:59Z"})",
  };
  for (const char *text : conditions) {
    r.pool.push_back(json::parse(text));
    Ids ids = run(json::array({r.pool.back()}));
    r.pool_ids.emplace_back(ids.begin(), ids.end());
  }
  for (int i = 0; i < 500; ++i) {
    std::set<int64_t> want;
    json crit = r.item(5, want);
    INFO(crit.dump());
    CompiledCriteria c = compile(crit);
    CHECK(placeholders(c.where) == c.params.size());
    Ids got = select_ids(c.where, c.params);
    CHECK(got == Ids(want.begin(), want.end()));
  }
}
