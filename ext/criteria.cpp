// criteria.cpp: compile criteria JSON (SPEC section 5) into a parameterized SQL condition.
//
// USAGE
//   CompiledCriteria c = compile_criteria(json::parse(R"([{"attribute": "status",
//       "operator": "IS_IN", "value": ["open", "held"]}])"), {"id", "status"}, "");
//   // c.where  == R"(("status" IN (?, ?)))"     c.params == ["open", "held"]
//   // run: SELECT ... FROM src WHERE <c.where>, binding c.params in order (Stmt::bind_json).
//
// SHAPES (anywhere criteria are; every item position accepts every shape)
//   null, {}                              every row: `where` is empty, no params.
//   [item, item, ...]                     a list: all items must hold. The strings "AND" and
//                                         "OR" may stand between items; AND binds tighter than
//                                         OR, two items side by side are ANDed, so
//                                         [c1, c2, "OR", c3] is (c1 AND c2) OR c3. An operator at
//                                         the start or end, or two in a row, is an error.
//                                         Items may be lists themselves. [] matches every row.
//   {"logical": "AND"|"OR", "items": [item, ...]}
//                                         a group; both keys required, nothing else. Items are
//                                         conditions, groups, lists or date ranges (not the
//                                         strings "AND"/"OR"). Empty items match every row, so
//                                         an empty group inside OR makes the OR match every row.
//   {"date_from_utc": t, "date_to_utc": t}
//                                         a range on the definition's date_column option, either
//                                         bound or both (null = not given). t is ISO 8601 UTC
//                                         text: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, optionally
//                                         with a .fff fraction (1 to 9 digits) and a final Z.
//                                         Compiled as "col" >= ? / "col" <= ?, comparing the
//                                         bound text with the stored text as given, so store and
//                                         ask in the same format: '2026-04-30T10:00:00Z' is
//                                         after a date_to_utc of '2026-04-30'. from after to (as
//                                         instants, a bare date being midnight) is an error
//                                         starting "invalid_date_range: ".
//   {"attribute": a, "operator": OP, "value": v}
//                                         a condition (also accepted alone at the top).
//                                         a is a source column, matched ignoring ASCII case and
//                                         written in the source's spelling, double-quoted.
//
// OPERATORS (value bound as a `?` parameter with its JSON type; true/false bind as 1/0;
// comparisons follow SQLite's affinity rules: a column's declared type converts the value)
//   IS_EQUAL_TO            ("c" = ?)        value null: ("c" IS ?)
//   IS_NOT_EQUAL_TO        ("c" IS NOT ?)   rows where c is NULL are not equal (unless value null)
//   IS_GREATER_THAN (>), IS_GREATER_THAN_OR_EQUAL_TO (>=), IS_LESS_THAN (<),
//   IS_LESS_THAN_OR_EQUAL_TO (<=), IS_BEFORE (<), IS_AFTER (>)
//                          ("c" > ?)        value a string, number or boolean; never null
//   IS_BETWEEN             ("c" BETWEEN ? AND ?)   value [low, high], inclusive: two numbers
//                          (compared as numbers) or two strings (compared bytewise), low not
//                          above high
//   IS_IN                  ("c" IN (?, ?))  value a non-empty array of strings, numbers,
//                          booleans or nulls; a null in it matches NULL rows:
//                          ("c" IS NULL OR "c" IN (?)), and [null] alone is ("c" IS NULL)
//   IS_NOT_IN              ("c" IS NULL OR "c" NOT IN (?, ?))   NULL rows are not in the list;
//                          with a null in it: ("c" IS NOT NULL AND "c" NOT IN (?))
//   CONTAINS, STARTS_WITH, ENDS_WITH
//                          ("c" LIKE ? ESCAPE '\')   value a string, bound as the pattern
//                          %v%, v% or %v with \, % and _ escaped by \ so they match
//                          themselves. Matching is SQLite's LIKE: case-insensitive for ASCII
//                          letters only (unless PRAGMA case_sensitive_like or ICU changes LIKE).
//                          The value must not hold a NUL and its pattern at most 50000 bytes.
//   DOES_NOT_CONTAIN, DOES_NOT_START_WITH
//                          ("c" IS NULL OR "c" NOT LIKE ? ESCAPE '\')
//   IS_EMPTY               ("c" IS NULL OR "c" = '')          no "value" key allowed
//   IS_NOT_EMPTY           ("c" IS NOT NULL AND "c" <> '')    no "value" key allowed
//
// OUTPUT
//   Every condition and every AND/OR chain is parenthesized; items are kept in their order;
//   `where` holds only plain `?` placeholders, one per entry of params, in order. Values never
//   appear in the SQL text. Chains longer than 64 items are split into parenthesized chunks so
//   SQLite's expression depth stays small.
//
// LIMITS
//   At most 10000 conditions (date ranges count as one), at most 30000 values to bind, lists
//   and groups nested at most 16 levels (the top-level list or group is level 1; recursion
//   follows that nesting only). SQLite 3.40's parser holds 100 symbols, so criteria whose SQL
//   would need more than an estimated 64 of them, or an expression deeper than 800, are
//   rejected ("nested too deeply for SQLite's parser"); that takes many levels of lists that
//   mix AND and OR, or many levels that are each very wide.
//
// ERRORS
//   ExportError(Code::invalid_request, message). Messages start lowercase, name the path of the
//   bad item (criteria, criteria[0], criteria[0][2], criteria[1].items[0], criteria.items[3]),
//   quote the bad value (strings in '...', anything else as compact JSON, cut at 80 bytes) and
//   say what is accepted.
#include "criteria.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "errors.h"
#include "options.h"
#include "util.h"

namespace sqlexport {

using nlohmann::json;

namespace {

constexpr int kMaxConditions = 10000;
constexpr size_t kMaxParams = 30000;
constexpr int kMaxLevels = 16;
constexpr size_t kChunk = 64;
constexpr size_t kMaxLikePattern = 50000;  // SQLITE_MAX_LIKE_PATTERN_LENGTH's default
constexpr size_t kShownBytes = 80;
// Estimates of what the compiled SQL asks of SQLite's parser: a condition needs at most
// kLeafStack parser-stack entries (its own parenthesis included) and an expression tree of
// height kLeafHeight. The budgets leave room for the statement the caller wraps around `where`.
constexpr int kLeafStack = 10;
constexpr int kLeafHeight = 5;
constexpr int kMaxStack = 64;
constexpr int kMaxHeight = 800;

enum class Op {
  eq, ne, gt, ge, lt, le, before, after, between, in, not_in,
  contains, not_contains, starts, not_starts, ends, empty, not_empty
};

struct OpName {
  const char *name;
  Op op;
};

constexpr OpName kOps[] = {
    {"IS_EQUAL_TO", Op::eq},
    {"IS_NOT_EQUAL_TO", Op::ne},
    {"IS_GREATER_THAN", Op::gt},
    {"IS_GREATER_THAN_OR_EQUAL_TO", Op::ge},
    {"IS_LESS_THAN", Op::lt},
    {"IS_LESS_THAN_OR_EQUAL_TO", Op::le},
    {"IS_BEFORE", Op::before},
    {"IS_AFTER", Op::after},
    {"IS_BETWEEN", Op::between},
    {"IS_IN", Op::in},
    {"IS_NOT_IN", Op::not_in},
    {"CONTAINS", Op::contains},
    {"DOES_NOT_CONTAIN", Op::not_contains},
    {"STARTS_WITH", Op::starts},
    {"DOES_NOT_START_WITH", Op::not_starts},
    {"ENDS_WITH", Op::ends},
    {"IS_EMPTY", Op::empty},
    {"IS_NOT_EMPTY", Op::not_empty},
};

const char *const kAccepted = "a condition (attribute, operator, value), a group (logical, items) or a date range "
                              "(date_from_utc, date_to_utc)";
const char *const kDateFormat = "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z]";

[[noreturn]] void fail(const std::string &msg) { throw ExportError(Code::invalid_request, msg); }

// Every operator name, comma-separated, in the order of the manual above.
std::string operator_names() {
  std::string out;
  for (const auto &o : kOps) {
    if (!out.empty()) out += ", ";
    out += o.name;
  }
  return out;
}

// Text given by a user, made fit for a message: control bytes escaped, cut after kShownBytes.
std::string clip(std::string_view s) {
  std::string out;
  size_t n = s.size();
  if (n > kShownBytes) {
    n = kShownBytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // keep UTF-8 whole
  }
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    else out += static_cast<char>(c);
  }
  if (n < s.size()) out += "...";
  return out;
}

// A JSON value for a message: a string in single quotes, anything else as compact JSON.
std::string show(const json &v) {
  if (v.is_string()) return "'" + clip(v.get_ref<const std::string &>()) + "'";
  return clip(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Where a list's i-th item sits, e.g. "criteria[2]".
std::string at_index(const std::string &path, size_t i) { return fmt::format("{}[{}]", path, i); }

// The instant of an ISO 8601 bound as "YYYY-MM-DDTHH:MM:SS.fffffffff" (comparable as text),
// or "" when the text is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z] with valid fields.
std::string date_instant(const std::string &s) {
  auto number = [&s](size_t pos, size_t len, int &out) {
    if (pos + len > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0;
  if (!number(0, 4, year) || s.size() < 10 || s[4] != '-' || !number(5, 2, month) || s[7] != '-' ||
      !number(8, 2, day))
    return {};
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return {};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > days) return {};
  if (s.size() == 10) return s + "T00:00:00.000000000";
  int hour = 0, minute = 0, second = 0;
  if (s.size() < 19 || s[10] != 'T' || !number(11, 2, hour) || s[13] != ':' || !number(14, 2, minute) ||
      s[16] != ':' || !number(17, 2, second) || hour > 23 || minute > 59 || second > 59)
    return {};
  size_t pos = 19;
  std::string fraction;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') fraction += s[pos++];
    if (fraction.empty() || fraction.size() > 9) return {};
  }
  if (pos < s.size() && s[pos] == 'Z') ++pos;
  if (pos != s.size()) return {};
  fraction.resize(9, '0');
  return s.substr(0, 19) + "." + fraction;
}

// True when JSON number a is above JSON number b: integers exactly, otherwise as doubles.
bool number_above(const json &a, const json &b) {
  if (a.is_number_float() || b.is_number_float()) return a.get<double>() > b.get<double>();
  bool a_neg = !a.is_number_unsigned() && a.get<int64_t>() < 0;
  bool b_neg = !b.is_number_unsigned() && b.get<int64_t>() < 0;
  if (a_neg != b_neg) return b_neg;
  if (a_neg) return a.get<int64_t>() > b.get<int64_t>();
  return a.get<uint64_t>() > b.get<uint64_t>();
}

// A LIKE pattern that matches v literally, with % put before and/or after it.
std::string like_pattern(const std::string &v, bool any_before, bool any_after) {
  std::string p;
  p.reserve(v.size() + 4);
  if (any_before) p += '%';
  for (char c : v) {
    if (c == '\\' || c == '%' || c == '_') p += '\\';
    p += c;
  }
  if (any_after) p += '%';
  return p;
}

// A compiled part of the criteria; an empty sql matches every row.
struct Piece {
  std::string sql;
  std::vector<json> params;
  int height = 0;  // estimated SQLite expression-tree height
  int stack = 0;   // estimated SQLite parser-stack entries needed to parse sql
};

// Compiles one criteria document; holds the columns and the running counts behind the limits.
class Compiler {
 public:
  Compiler(const std::vector<std::string> &columns, const std::string &date_column)
      : columns_(columns), date_column_(date_column) {}

  // Compile the whole criteria value found at path "criteria".
  Piece top(const json &criteria) {
    const std::string path = "criteria";
    if (criteria.is_null()) return {};
    if (criteria.is_array()) return list(criteria, path, 1);
    if (criteria.is_object()) return criteria.empty() ? Piece{} : object(criteria, path, 1);
    fail(fmt::format("criteria must be a JSON array or object (null for every row), not {}", show(criteria)));
  }

 private:
  // Compile an item of a list or group that sits at nesting `level` (lists/groups count).
  Piece item(const json &j, const std::string &path, int level) {
    if (j.is_array()) return list(j, path, level + 1);
    if (j.is_object()) {
      if (j.empty()) fail(fmt::format("{} is an empty object; expected {}", path, kAccepted));
      return object(j, path, level + 1);
    }
    fail(fmt::format("{} must be a condition, a group, a list or \"AND\"/\"OR\" between items, not {}", path,
                     show(j)));
  }

  // Compile a non-empty object: a condition, a group or a date range, told apart by its keys.
  Piece object(const json &obj, const std::string &path, int level) {
    if (obj.contains("attribute") || obj.contains("operator") || obj.contains("value")) return condition(obj, path);
    if (obj.contains("logical") || obj.contains("items")) return group(obj, path, level);
    if (obj.contains("date_from_utc") || obj.contains("date_to_utc")) return date_range(obj, path);
    fail(fmt::format("unknown key '{}' in {}; expected {}", clip(obj.begin().key()), path, kAccepted));
  }

  // Refuse a list or group nested deeper than kMaxLevels.
  static void check_level(const std::string &path, int level) {
    if (level > kMaxLevels)
      fail(fmt::format("criteria nest deeper than {} levels of lists and groups at {}", kMaxLevels, path));
  }

  // Compile a list: items ANDed, or split by "AND"/"OR" strings with AND binding tighter.
  Piece list(const json &arr, const std::string &path, int level) {
    check_level(path, level);
    std::vector<std::vector<Piece>> terms(1);  // OR of ANDs
    const std::string *previous_op = nullptr;
    for (size_t i = 0; i < arr.size(); ++i) {
      const json &j = arr[i];
      const std::string p = at_index(path, i);
      if (j.is_string() && (j.get_ref<const std::string &>() == "AND" || j.get_ref<const std::string &>() == "OR")) {
        const std::string &op = j.get_ref<const std::string &>();
        if (i == 0) fail(fmt::format("{}: \"{}\" cannot start a list; \"AND\" and \"OR\" go between items", p, op));
        if (previous_op)
          fail(fmt::format("{}: \"{}\" cannot follow \"{}\"; \"AND\" and \"OR\" go between items", p, op,
                           *previous_op));
        if (i + 1 == arr.size())
          fail(fmt::format("{}: \"{}\" cannot end a list; \"AND\" and \"OR\" go between items", p, op));
        if (op == "OR") terms.emplace_back();
        previous_op = &op;
        continue;
      }
      previous_op = nullptr;
      terms.back().push_back(item(j, p, level));
    }
    std::vector<Piece> ors;
    ors.reserve(terms.size());
    for (auto &t : terms) ors.push_back(combine(std::move(t), false, path));
    return combine(std::move(ors), true, path);
  }

  // Compile {"logical": "AND"|"OR", "items": [...]}.
  Piece group(const json &obj, const std::string &path, int level) {
    check_level(path, level);
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it.key() != "logical" && it.key() != "items")
        fail(fmt::format("unknown key '{}' in {}; expected logical, items", clip(it.key()), path));
    auto logical = obj.find("logical");
    if (logical == obj.end()) fail(fmt::format("{} needs \"logical\": \"AND\" or \"OR\"", path));
    if (!logical->is_string() || (*logical != "AND" && *logical != "OR"))
      fail(fmt::format("logical in {} must be \"AND\" or \"OR\", not {}", path, show(*logical)));
    auto items = obj.find("items");
    if (items == obj.end()) fail(fmt::format("{} needs \"items\": an array of conditions, groups or lists", path));
    if (!items->is_array())
      fail(fmt::format("items in {} must be an array of conditions, groups or lists, not {}", path, show(*items)));
    std::vector<Piece> parts;
    parts.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i)
      parts.push_back(item((*items)[i], fmt::format("{}.items[{}]", path, i), level));
    return combine(std::move(parts), *logical == "OR", path);
  }

  // Count one more condition (or date range) at path against kMaxConditions.
  void count_condition(const std::string &path) {
    if (++conditions_ > kMaxConditions)
      fail(fmt::format("criteria hold more than {} conditions (at {})", kMaxConditions, path));
  }

  // Make a condition's piece, counting its params against kMaxParams.
  Piece leaf(std::string sql, std::vector<json> params, const std::string &path) {
    params_ += params.size();
    if (params_ > kMaxParams) fail(fmt::format("criteria hold more than {} values to bind (at {})", kMaxParams, path));
    return Piece{std::move(sql), std::move(params), kLeafHeight, kLeafStack};
  }

  // Compile {"date_from_utc": t, "date_to_utc": t} on the date column.
  Piece date_range(const json &obj, const std::string &path) {
    count_condition(path);
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it.key() != "date_from_utc" && it.key() != "date_to_utc")
        fail(fmt::format("unknown key '{}' in {}; expected date_from_utc, date_to_utc", clip(it.key()), path));
    if (date_column_.empty()) fail(fmt::format("date-range criteria need the option 'date_column' (in {})", path));
    int col = find_column(columns_, date_column_);
    if (col < 0)
      fail(fmt::format("the option 'date_column' names '{}', which is not a column of the source; columns are {}",
                       clip(date_column_), join_names(columns_)));
    const std::string q = quote_ident(columns_[static_cast<size_t>(col)]);
    std::string bound[2], instant[2];
    const char *names[2] = {"date_from_utc", "date_to_utc"};
    for (int b = 0; b < 2; ++b) {
      auto it = obj.find(names[b]);
      if (it == obj.end() || it->is_null()) continue;
      if (it->is_string()) {
        bound[b] = it->get<std::string>();
        instant[b] = date_instant(bound[b]);
      }
      if (instant[b].empty())
        fail(fmt::format("{} in {} must be ISO 8601 text: {}, not {}", names[b], path, kDateFormat, show(*it)));
    }
    if (!instant[0].empty() && !instant[1].empty() && instant[0] > instant[1])
      fail(fmt::format("invalid_date_range: date_from_utc '{}' is after date_to_utc '{}' in {}", clip(bound[0]),
                       clip(bound[1]), path));
    std::vector<json> params;
    std::string sql;
    if (!instant[0].empty()) {
      sql = q + " >= ?";
      params.emplace_back(bound[0]);
    }
    if (!instant[1].empty()) {
      sql += (sql.empty() ? "" : " AND ") + q + " <= ?";
      params.emplace_back(bound[1]);
    }
    if (sql.empty()) return {};
    return leaf("(" + sql + ")", std::move(params), path);
  }

  // Compile {"attribute": a, "operator": OP, "value": v}.
  Piece condition(const json &obj, const std::string &path) {
    count_condition(path);
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it.key() != "attribute" && it.key() != "operator" && it.key() != "value")
        fail(fmt::format("unknown key '{}' in {}; expected attribute, operator, value", clip(it.key()), path));

    auto attr = obj.find("attribute");
    if (attr == obj.end())
      fail(fmt::format("{} needs \"attribute\": a column name; columns are {}", path, join_names(columns_)));
    if (!attr->is_string())
      fail(fmt::format("attribute in {} must be a column name, not {}; columns are {}", path, show(*attr),
                       join_names(columns_)));
    const std::string &name = attr->get_ref<const std::string &>();
    int col = name.find('\0') == std::string::npos ? find_column(columns_, name) : -1;
    if (col < 0)
      fail(fmt::format("unknown attribute '{}' in {}; columns are {}", clip(name), path, join_names(columns_)));
    const std::string q = quote_ident(columns_[static_cast<size_t>(col)]);

    auto op_it = obj.find("operator");
    if (op_it == obj.end()) fail(fmt::format("{} needs \"operator\": one of {}", path, operator_names()));
    const OpName *op = nullptr;
    if (op_it->is_string())
      for (const auto &o : kOps)
        if (*op_it == o.name) op = &o;
    if (!op) fail(fmt::format("unknown operator {} in {}; expected one of {}", show(*op_it), path, operator_names()));

    auto value = obj.find("value");
    const bool has_value = value != obj.end();
    auto need = [&](const char *accepted) {
      if (!has_value) fail(fmt::format("{} needs a value for operator '{}': {}", path, op->name, accepted));
    };
    auto wrong = [&](const char *accepted) {
      fail(fmt::format("{}: operator '{}' needs {}, not {}", path, op->name, accepted, show(*value)));
    };
    auto scalar = [](const json &v) { return v.is_string() || v.is_number() || v.is_boolean(); };

    switch (op->op) {
      case Op::eq:
      case Op::ne: {
        const char *accepted = "a string, number, boolean or null";
        need(accepted);
        if (!scalar(*value) && !value->is_null()) wrong(accepted);
        const char *sql_op = op->op == Op::ne ? "IS NOT" : value->is_null() ? "IS" : "=";
        return leaf(fmt::format("({} {} ?)", q, sql_op), {*value}, path);
      }
      case Op::gt:
      case Op::ge:
      case Op::lt:
      case Op::le:
      case Op::before:
      case Op::after: {
        const char *accepted = "a string, number or boolean";
        need(accepted);
        if (!scalar(*value)) wrong(accepted);
        const char *sql_op = op->op == Op::gt || op->op == Op::after ? ">"
                             : op->op == Op::ge                       ? ">="
                             : op->op == Op::le                       ? "<="
                                                                      : "<";
        return leaf(fmt::format("({} {} ?)", q, sql_op), {*value}, path);
      }
      case Op::between: {
        const char *accepted = "[low, high], two numbers or two strings";
        need(accepted);
        if (!value->is_array() || value->size() != 2) wrong(accepted);
        const json &low = (*value)[0], &high = (*value)[1];
        bool numbers = low.is_number() && high.is_number();
        if (!numbers && !(low.is_string() && high.is_string())) wrong(accepted);
        bool above = numbers ? number_above(low, high)
                             : low.get_ref<const std::string &>() > high.get_ref<const std::string &>();
        if (above)
          fail(fmt::format("{}: operator 'IS_BETWEEN' needs low not above high, not {}", path, show(*value)));
        return leaf(fmt::format("({} BETWEEN ? AND ?)", q), {low, high}, path);
      }
      case Op::in:
      case Op::not_in: {
        const char *accepted = "a non-empty array of strings, numbers, booleans or nulls";
        need(accepted);
        if (!value->is_array() || value->empty()) wrong(accepted);
        std::vector<json> params;
        bool has_null = false;
        for (const auto &v : *value) {
          if (v.is_null()) has_null = true;
          else if (scalar(v)) params.push_back(v);
          else wrong(accepted);
        }
        const bool in = op->op == Op::in;
        if (params.empty()) return leaf(fmt::format("({} {})", q, in ? "IS NULL" : "IS NOT NULL"), {}, path);
        std::string list = "(?";
        for (size_t i = 1; i < params.size(); ++i) list += ", ?";
        list += ")";
        std::string sql;
        if (in && has_null) sql = fmt::format("({0} IS NULL OR {0} IN {1})", q, list);
        else if (in) sql = fmt::format("({} IN {})", q, list);
        else if (has_null) sql = fmt::format("({0} IS NOT NULL AND {0} NOT IN {1})", q, list);
        else sql = fmt::format("({0} IS NULL OR {0} NOT IN {1})", q, list);
        return leaf(std::move(sql), std::move(params), path);
      }
      case Op::contains:
      case Op::not_contains:
      case Op::starts:
      case Op::not_starts:
      case Op::ends: {
        need("a string");
        if (!value->is_string()) wrong("a string");
        const std::string &v = value->get_ref<const std::string &>();
        if (v.find('\0') != std::string::npos)
          fail(fmt::format("{}: the value for operator '{}' holds a NUL character, which LIKE cannot match", path,
                           op->name));
        bool before = op->op != Op::starts && op->op != Op::not_starts;
        bool after = op->op != Op::ends;
        std::string pattern = like_pattern(v, before, after);
        if (pattern.size() > kMaxLikePattern)
          fail(fmt::format("{}: the value for operator '{}' is too long: its LIKE pattern has {} bytes, SQLite "
                           "allows {}",
                           path, op->name, pattern.size(), kMaxLikePattern));
        bool negated = op->op == Op::not_contains || op->op == Op::not_starts;
        std::string sql = negated ? fmt::format("({0} IS NULL OR {0} NOT LIKE ? ESCAPE '\\')", q)
                                  : fmt::format("({} LIKE ? ESCAPE '\\')", q);
        return leaf(std::move(sql), {json(std::move(pattern))}, path);
      }
      case Op::empty:
      case Op::not_empty:
        if (has_value) fail(fmt::format("{}: operator '{}' takes no value; remove \"value\"", path, op->name));
        return leaf(op->op == Op::empty ? fmt::format("({0} IS NULL OR {0} = '')", q)
                                        : fmt::format("({0} IS NOT NULL AND {0} <> '')", q),
                    {}, path);
    }
    fail(fmt::format("unknown operator {} in {}; expected one of {}", show(*op_it), path, operator_names()));
  }

  // Join parts with AND or OR: parts matching every row drop out of an AND and make an OR
  // match every row; chains longer than kChunk become parenthesized chunks.
  Piece combine(std::vector<Piece> parts, bool is_or, const std::string &path) {
    if (is_or) {
      for (const auto &p : parts)
        if (p.sql.empty()) return {};
    } else {
      parts.erase(std::remove_if(parts.begin(), parts.end(), [](const Piece &p) { return p.sql.empty(); }),
                  parts.end());
    }
    if (parts.empty()) return {};
    while (parts.size() > kChunk) {
      std::vector<Piece> chunks;
      for (size_t i = 0; i < parts.size(); i += kChunk) {
        size_t end = std::min(parts.size(), i + kChunk);
        chunks.push_back(end - i == 1 ? std::move(parts[i]) : chain(parts, i, end, is_or, path));
      }
      parts = std::move(chunks);
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return chain(parts, 0, parts.size(), is_or, path);
  }

  // "(p1 AND p2 ...)" from parts[begin, end), with its parser estimates checked.
  static Piece chain(std::vector<Piece> &parts, size_t begin, size_t end, bool is_or, const std::string &path) {
    Piece out;
    out.sql = "(";
    const int n = static_cast<int>(end - begin);
    for (size_t i = begin; i < end; ++i) {
      const int k = static_cast<int>(i - begin);
      Piece &p = parts[i];
      if (k > 0) out.sql += is_or ? " OR " : " AND ";
      out.sql += p.sql;
      std::move(p.params.begin(), p.params.end(), std::back_inserter(out.params));
      // SQLite builds ((p0 OP p1) OP p2) ...: p0 and p1 sit n-1 deep, p_k n-k deep. While a
      // part is parsed the stack holds "(" before p0, and "(", the chain so far and OP later.
      out.height = std::max(out.height, p.height + n - std::max(k, 1));
      out.stack = std::max(out.stack, p.stack + (k == 0 ? 1 : 3));
    }
    out.sql += ")";
    if (out.height > kMaxHeight || out.stack > kMaxStack)
      fail(fmt::format("criteria at {} are nested too deeply for SQLite's parser; use fewer levels of lists and "
                       "groups",
                       path));
    return out;
  }

  const std::vector<std::string> &columns_;
  const std::string &date_column_;
  int conditions_ = 0;
  size_t params_ = 0;
};

}  // namespace

CompiledCriteria compile_criteria(const json &criteria, const std::vector<std::string> &columns,
                                  const std::string &date_column) {
  Piece piece = Compiler(columns, date_column).top(criteria);
  CompiledCriteria out;
  out.where = std::move(piece.sql);
  for (auto &p : piece.params) out.params.push_back(std::move(p));
  return out;
}

bool criteria_given(const json &criteria) noexcept {
  return !criteria.is_null() && !(criteria.is_object() && criteria.empty());
}

}  // namespace sqlexport
