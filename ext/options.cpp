// options.cpp: parse, validate and show the options of a definition (SPEC section 6).
#include "options.h"

#include <fmt/format.h>

#include "common.h"
#include "errors.h"
#include "schedule.h"
#include "util.h"

namespace sqlexport {

using nlohmann::json;

namespace {

const char *const kOptionNames[] = {"header",        "delimiter",    "null",          "force_quote", "line_ending",
                                    "blob",          "bom",          "formula_escape", "order_by",   "max_rows",
                                    "file_max_rows", "file_max_bytes", "compression", "compression_level", "expires_days", "output_name",
                                    "exclusive",     "date_column",  "pivot",         "pivot_max_columns",
                                    "schedule",      "incremental"};

const char *const kAggregators[] = {"cnt", "cnt_distinct", "sum", "avg", "min", "max"};
constexpr const char *kAggregatorList = "cnt, cnt_distinct, sum, avg, min, max";

[[noreturn]] void bad(const std::string &msg) { throw ExportError(Code::invalid_request, msg); }

std::string all_option_names() {
  std::string out;
  for (const char *n : kOptionNames) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

bool get_bool(const json &v, const char *name) {
  if (!v.is_boolean()) bad(fmt::format("option '{}' must be true or false, not {}", name, v.dump()));
  return v.get<bool>();
}

int64_t get_count(const json &v, const char *name) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    bad(fmt::format("option '{}' must be an integer >= 0 (0 = no limit), not {}", name, v.dump()));
  return v.get<int64_t>();
}

std::string get_string(const json &v, const char *name) {
  if (!v.is_string()) bad(fmt::format("option '{}' must be a string, not {}", name, v.dump()));
  return v.get<std::string>();
}

std::string column_of(const json &v, const char *what, const std::vector<std::string> &columns) {
  if (!v.is_string()) bad(fmt::format("{} must be a column name, not {}", what, v.dump()));
  int i = find_column(columns, v.get<std::string>());
  if (i < 0)
    bad(fmt::format("{} names column '{}', which is not in the source; columns are {}", what, v.get<std::string>(),
                    join_names(columns)));
  return columns[static_cast<size_t>(i)];
}

// True when a and b are equal ignoring ASCII case (as SQLite compares identifiers).
bool same_name(const std::string &a, const std::string &b) {
  return a.size() == b.size() && sqlite3_strnicmp(a.c_str(), b.c_str(), static_cast<int>(a.size())) == 0;
}

// The pivot option: {"fields": [...], "column": c, "summaries": [...], "sort": {...}}.
Pivot parse_pivot(const json &v, const std::vector<std::string> &columns) {
  if (!v.is_object())
    bad(fmt::format("option 'pivot' must be an object {{\"fields\": [...], \"column\": c, \"summaries\": [...], "
                    "\"sort\": {{...}}}} or null, not {}",
                    v.dump()));
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "fields" && it.key() != "column" && it.key() != "summaries" && it.key() != "sort")
      bad(fmt::format("option 'pivot' has unknown key '{}'; expected fields, column, summaries, sort", it.key()));
  Pivot p;
  if (!v.contains("fields")) bad("option 'pivot' needs \"fields\": an array of the columns to group by");
  const json &fields = v["fields"];
  if (!fields.is_array()) bad(fmt::format("pivot.fields must be an array of column names, not {}", fields.dump()));
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string c = column_of(fields[i], fmt::format("pivot.fields[{}]", i).c_str(), columns);
    for (const auto &have : p.fields)
      if (have == c) bad(fmt::format("pivot.fields lists column '{}' twice", c));
    p.fields.push_back(c);
  }
  if (v.contains("column") && !v["column"].is_null()) {
    p.column = column_of(v["column"], "pivot.column", columns);
    for (const auto &f : p.fields)
      if (f == p.column)
        bad(fmt::format("pivot.column '{}' is also in pivot.fields; a column cannot group both rows and columns",
                        p.column));
  }
  json summaries = v.contains("summaries") && !v["summaries"].is_null() ? v["summaries"]
                                                                          : json::array({json{{"aggregator", "cnt"}}});
  if (!summaries.is_array() || summaries.empty())
    bad(fmt::format("pivot.summaries must be a non-empty array of {{\"aggregator\": a, \"column\": c, \"as\": name}}, "
                    "not {}",
                    summaries.dump()));
  for (size_t i = 0; i < summaries.size(); ++i) {
    const json &s = summaries[i];
    std::string where = fmt::format("pivot.summaries[{}]", i);
    if (!s.is_object())
      bad(fmt::format("{} must be an object {{\"aggregator\": a, \"column\": c, \"as\": name}}, not {}", where, s.dump()));
    for (auto it = s.begin(); it != s.end(); ++it)
      if (it.key() != "aggregator" && it.key() != "column" && it.key() != "as")
        bad(fmt::format("{} has unknown key '{}'; expected aggregator, column, as", where, it.key()));
    PivotSummary sum;
    if (!s.contains("aggregator")) bad(fmt::format("{} needs \"aggregator\": one of {}", where, kAggregatorList));
    const json &a = s["aggregator"];
    bool known = false;
    if (a.is_string())
      for (const char *k : kAggregators) known = known || a.get<std::string>() == k;
    if (!known)
      bad(fmt::format("{} has unknown aggregator {}; expected one of {}", where,
                      a.is_string() ? "'" + a.get<std::string>() + "'" : a.dump(), kAggregatorList));
    sum.aggregator = a.get<std::string>();
    if (s.contains("column") && !s["column"].is_null())
      sum.column = column_of(s["column"], (where + ".column").c_str(), columns);
    else if (sum.aggregator != "cnt")
      bad(fmt::format("{} ({}) needs \"column\": the column to summarize", where, sum.aggregator));
    if (s.contains("as") && !s["as"].is_null()) {
      if (!s["as"].is_string() || s["as"].get<std::string>().empty())
        bad(fmt::format("{}.as must be a non-empty string, not {}", where, s["as"].dump()));
      sum.name = s["as"].get<std::string>();
    } else {
      sum.name = sum.column.empty() ? "_" + sum.aggregator : sum.aggregator + "_" + sum.column;
    }
    for (const auto &f : p.fields)
      if (same_name(f, sum.name))
        bad(fmt::format("{} is named '{}', like field '{}'; output column names must be unique: give it another \"as\"",
                        where, sum.name, f));
    for (const auto &other : p.summaries)
      if (same_name(other.name, sum.name))
        bad(fmt::format("{} is named '{}', like another summary; output column names must be unique: give it another "
                        "\"as\"",
                        where, sum.name));
    p.summaries.push_back(sum);
  }
  if (v.contains("sort") && !v["sort"].is_null()) {
    const json &s = v["sort"];
    if (!s.is_object())
      bad(fmt::format("pivot.sort must be an object {{\"column\": c, \"desc\": false}} or null, not {}", s.dump()));
    for (auto it = s.begin(); it != s.end(); ++it)
      if (it.key() != "column" && it.key() != "desc")
        bad(fmt::format("pivot.sort has unknown key '{}'; expected column, desc", it.key()));
    std::vector<std::string> names = p.fields;
    for (const auto &sum : p.summaries) names.push_back(sum.name);
    if (!s.contains("column") || !s["column"].is_string())
      bad(fmt::format("pivot.sort needs \"column\": a field or summary name, one of {}", join_names(names)));
    const std::string want = s["column"].get<std::string>();
    for (const auto &f : p.fields)
      if (same_name(f, want)) p.sort = f;
    for (size_t i = 0; i < p.summaries.size(); ++i)
      if (same_name(p.summaries[i].name, want)) {
        p.sort = p.summaries[i].name;
        p.sort_summary = static_cast<int>(i);
      }
    if (p.sort.empty())
      bad(fmt::format("pivot.sort names '{}', which is not a field or summary; expected one of {}", want,
                      join_names(names)));
    if (s.contains("desc")) p.sort_desc = get_bool(s["desc"], "pivot.sort.desc");
  }
  return p;
}

json pivot_to_json(const Pivot &p) {
  json j = json::object();
  j["fields"] = p.fields;
  if (p.column.empty()) j["column"] = nullptr;
  else j["column"] = p.column;
  json sums = json::array();
  for (const auto &s : p.summaries) {
    json one = json::object();
    one["aggregator"] = s.aggregator;
    if (s.column.empty()) one["column"] = nullptr;
    else one["column"] = s.column;
    one["as"] = s.name;
    sums.push_back(one);
  }
  j["summaries"] = sums;
  if (p.sort.empty()) j["sort"] = nullptr;
  else j["sort"] = json{{"column", p.sort}, {"desc", p.sort_desc}};
  return j;
}

// True when v is what a csv or tsv definition shows for option name by default.
bool at_text_default(const std::string &name, const json &v) {
  if (name == "delimiter") return v == "," || v == "\t";
  if (name == "null") return v == "";
  if (name == "force_quote") return v == false || (v.is_array() && v.empty());
  if (name == "line_ending") return v == "\n";
  if (name == "bom" || name == "formula_escape") return v == false;
  if (name == "compression") return v == "none";
  if (name == "compression_level") return v.is_null();
  if (name == "file_max_bytes") return v.is_number_integer() && v.get<int64_t>() == 0;
  return false;
}

}  // namespace

const std::vector<RefusedOption> &xlsx_refused_options() {
  static const std::vector<RefusedOption> k = {
      {"delimiter", "cells need no delimiter"},
      {"null", "a NULL is an empty cell"},
      {"force_quote", "cells are never quoted"},
      {"line_ending", "an xlsx file has no lines"},
      {"bom", "an xlsx file is not a text file"},
      {"formula_escape", "text is always written as a text cell, never as a formula"},
      {"compression", "an xlsx file is already a zip archive; compression_level sets how hard it is compressed"},
      {"file_max_bytes", "the size of a zip archive is known only once it is complete; use file_max_rows"},
  };
  return k;
}

Format parse_format(const std::string &text) {
  if (text == "csv") return Format::csv;
  if (text == "tsv") return Format::tsv;
  if (text == "jsonl") return Format::jsonl;
  if (text == "xlsx") return Format::xlsx;
  bad(fmt::format("format '{}' is not supported; expected csv, tsv, jsonl or xlsx", text));
}

const char *format_name(Format f) noexcept {
  switch (f) {
    case Format::csv: return "csv";
    case Format::tsv: return "tsv";
    case Format::jsonl: return "jsonl";
    case Format::xlsx: return "xlsx";
  }
  return "csv";
}

const char *format_extension(Format f) noexcept { return format_name(f); }

int find_column(const std::vector<std::string> &columns, const std::string &name) {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].size() == name.size() &&
        sqlite3_strnicmp(columns[i].c_str(), name.c_str(), static_cast<int>(name.size())) == 0)
      return static_cast<int>(i);
  return -1;
}

std::string join_names(const std::vector<std::string> &names) {
  std::string out;
  for (const auto &n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

Options parse_options(const std::string &json_text, Format format, const std::string &definition_name,
                      const std::vector<std::string> &columns) {
  Options o;
  if (format == Format::tsv) o.delimiter = '\t';
  o.output_name = definition_name;
  json in;
  if (!json_text.empty()) {
    in = parse_json_text(json_text, "options");
    if (!in.is_null() && !in.is_object()) bad(fmt::format("options must be a JSON object, not {}", in.dump()));
  }
  o.xlsx = format == Format::xlsx;
  if (o.xlsx && in.is_object()) {
    // Options that make no sense in a spreadsheet are refused; at their csv/tsv default (as a
    // definition shows them, e.g. one switched from csv) they are accepted and dropped.
    for (const auto &r : xlsx_refused_options()) {
      auto it = in.find(r.name);
      if (it == in.end()) continue;
      if (!at_text_default(r.name, *it))
        bad(fmt::format("option '{}' does not apply to format xlsx ({}); leave it out", r.name, r.why));
      in.erase(it);
    }
  }
  bool name_given = false;
  const json *level = nullptr;  // compression_level, checked once compression is known
  if (in.is_object()) {
    for (auto it = in.begin(); it != in.end(); ++it) {
      const std::string &k = it.key();
      const json &v = it.value();
      if (k == "header") {
        o.header = get_bool(v, "header");
      } else if (k == "delimiter") {
        std::string d = get_string(v, "delimiter");
        if (d.size() != 1 || static_cast<unsigned char>(d[0]) >= 0x80 || d[0] == '"' || d[0] == '\r' || d[0] == '\n' ||
            d[0] == '\0')
          bad(fmt::format("option 'delimiter' must be one ASCII character other than a quote, CR or LF, not {}",
                          v.dump()));
        o.delimiter = d[0];
      } else if (k == "null") {
        o.null_text = get_string(v, "null");
      } else if (k == "force_quote") {
        if (v.is_boolean()) {
          o.force_quote_all = v.get<bool>();
        } else if (v.is_array()) {
          for (const auto &c : v) o.force_quote_columns.push_back(column_of(c, "option 'force_quote'", columns));
        } else {
          bad(fmt::format("option 'force_quote' must be true, false or an array of column names, not {}", v.dump()));
        }
      } else if (k == "line_ending") {
        std::string le = get_string(v, "line_ending");
        if (le != "\n" && le != "\r\n") bad(fmt::format("option 'line_ending' must be \"\\n\" or \"\\r\\n\", not {}", v.dump()));
        o.line_ending = le;
      } else if (k == "blob") {
        std::string b = get_string(v, "blob");
        if (b == "hex") o.blob = Options::Blob::hex;
        else if (b == "base64") o.blob = Options::Blob::base64;
        else bad(fmt::format("option 'blob' must be \"hex\" or \"base64\", not {}", v.dump()));
      } else if (k == "bom") {
        o.bom = get_bool(v, "bom");
      } else if (k == "formula_escape") {
        o.formula_escape = get_bool(v, "formula_escape");
      } else if (k == "order_by") {
        if (!v.is_array() && !v.is_null())
          bad(fmt::format("option 'order_by' must be an array of column names or {{\"column\": c, \"desc\": true}}, not {}",
                          v.dump()));
        if (v.is_array()) {
          for (const auto &item : v) {
            OrderKey key;
            if (item.is_object()) {
              for (auto f = item.begin(); f != item.end(); ++f)
                if (f.key() != "column" && f.key() != "desc")
                  bad(fmt::format("option 'order_by' has unknown key '{}'; expected column, desc", f.key()));
              if (!item.contains("column")) bad("option 'order_by' item needs \"column\"");
              key.column = column_of(item["column"], "option 'order_by'", columns);
              if (item.contains("desc")) key.desc = get_bool(item["desc"], "order_by.desc");
            } else {
              key.column = column_of(item, "option 'order_by'", columns);
            }
            o.order_by.push_back(key);
          }
        }
      } else if (k == "max_rows") {
        o.max_rows = get_count(v, "max_rows");
      } else if (k == "file_max_rows") {
        o.file_max_rows = get_count(v, "file_max_rows");
      } else if (k == "file_max_bytes") {
        o.file_max_bytes = get_count(v, "file_max_bytes");
      } else if (k == "compression") {
        std::string c = get_string(v, "compression");
        if (c == "none") o.compression = Options::Compression::none;
        else if (c == "gzip") o.compression = Options::Compression::gzip;
        else if (c == "zstd") o.compression = Options::Compression::zstd;
        else bad(fmt::format("option 'compression' must be \"none\", \"gzip\" or \"zstd\", not {}", v.dump()));
      } else if (k == "compression_level") {
        level = &v;  // checked below, against the compression chosen
      } else if (k == "expires_days") {
        if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 36500)
          bad(fmt::format("option 'expires_days' must be an integer from 1 to 36500, not {}", v.dump()));
        o.expires_days = v.get<int64_t>();
      } else if (k == "output_name") {
        o.output_name = get_string(v, "output_name");
        name_given = true;
      } else if (k == "exclusive") {
        o.exclusive = get_bool(v, "exclusive");
      } else if (k == "date_column") {
        if (!v.is_null()) o.date_column = column_of(v, "option 'date_column'", columns);
      } else if (k == "pivot") {
        if (!v.is_null()) o.pivot = parse_pivot(v, columns);
      } else if (k == "pivot_max_columns") {
        if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 10000)
          bad(fmt::format("option 'pivot_max_columns' must be an integer from 1 to 10000, not {}", v.dump()));
        o.pivot_max_columns = v.get<int64_t>();
      } else if (k == "schedule") {
        if (!v.is_null()) o.schedule = Schedule::parse(get_string(v, "schedule")).text();
      } else if (k == "incremental") {
        if (v.is_null()) continue;
        if (!v.is_object() || v.size() != 1 || !v.contains("column") || !v["column"].is_string())
          bad(fmt::format("option 'incremental' must be an object {{\"column\": \"<column>\"}}, not {}", v.dump()));
        std::string c = v["column"].get<std::string>();
        int i = find_column(columns, c);
        if (i >= 0) o.incremental_column = columns[static_cast<size_t>(i)];
        else if (sqlite3_stricmp(c.c_str(), "rowid") == 0) o.incremental_column = "rowid";
        else
          bad(fmt::format("option 'incremental': column '{}' is not in the source; columns are {}", c,
                          join_names(columns)));
      } else {
        bad(fmt::format("unknown option '{}'; options are {}", k, all_option_names()));
      }
    }
  }
  if (o.xlsx) {
    // The workbook's own zip (deflate): 1 (the default, fastest) to 9 (smallest).
    if (level && !level->is_null()) {
      if (!level->is_number_integer() || level->get<int64_t>() < 1 || level->get<int64_t>() > kXlsxMaxZipLevel)
        bad(fmt::format("option 'compression_level' must be between 1 and {} for xlsx (how hard the workbook's zip "
                        "is compressed), not {}",
                        kXlsxMaxZipLevel, level->dump()));
      o.compression_level = static_cast<int>(level->get<int64_t>());
    } else {
      o.compression_level = kXlsxDefaultZipLevel;
    }
  } else if (level && !level->is_null()) {
    Compression c = o.compression;
    if (c == Compression::none)
      bad("option 'compression_level' is only for compression \"gzip\" or \"zstd\"; this export has compression "
          "\"none\"");
    if (!level->is_number_integer() || level->get<int64_t>() < min_level(c) || level->get<int64_t>() > max_level(c))
      bad(fmt::format("option 'compression_level' must be between {} and {} for {}, not {}", min_level(c), max_level(c),
                      compression_name(c), level->dump()));
    o.compression_level = static_cast<int>(level->get<int64_t>());
  } else {
    o.compression_level = default_level(o.compression);
  }
  if (!o.incremental_column.empty() && o.pivot) bad("option 'incremental' cannot be combined with option 'pivot'");
  if (!o.incremental_column.empty() && !o.exclusive)
    bad("option 'incremental' needs option 'exclusive' to be true: two runs at once would export the same rows");
  if (o.pivot && !o.order_by.empty())
    bad("option 'order_by' cannot be used with option 'pivot'; a pivot is ordered by pivot.sort, then its fields");
  // The null text is written unquoted, so it must not need quoting itself.
  {
    const std::string &t = o.null_text;
    if (t.find_first_of(std::string("\"\r\n") + o.delimiter) != std::string::npos ||
        (!t.empty() && (t.front() == ' ' || t.back() == ' ')))
      bad(fmt::format("option 'null' must not contain the delimiter, a quote, CR or LF, nor start or end with a space, "
                      "not {}",
                      json(t).dump()));
  }
  // File names come only from output_name, so it is confined to a safe alphabet and a length
  // that leaves room for the run and part numbers and the temporary suffix within 255 bytes.
  const std::string &n = o.output_name;
  bool ok = !n.empty() && n.size() <= 150 && n[0] != '.';
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      ok = false;
  if (!ok) {
    if (name_given)
      bad(fmt::format("option 'output_name' must be 1 to 150 letters, digits, '.', '_' or '-', not starting with '.', not {}",
                      json(n).dump()));
    bad(fmt::format("the name {} cannot be used as a file name; give option 'output_name' (1 to 150 letters, digits, '.', "
                    "'_' or '-', not starting with '.')",
                    json(n).dump()));
  }
  return o;
}

json Options::to_json() const {
  json j = json::object();
  j["header"] = header;
  j["delimiter"] = std::string(1, delimiter);
  j["null"] = null_text;
  if (!force_quote_columns.empty()) j["force_quote"] = force_quote_columns;
  else j["force_quote"] = force_quote_all;
  j["line_ending"] = line_ending;
  j["blob"] = blob == Blob::hex ? "hex" : "base64";
  j["bom"] = bom;
  j["formula_escape"] = formula_escape;
  if (order_by.empty()) {
    j["order_by"] = nullptr;
  } else {
    json arr = json::array();
    for (const auto &k : order_by) {
      if (k.desc) arr.push_back(json{{"column", k.column}, {"desc", true}});
      else arr.push_back(k.column);
    }
    j["order_by"] = arr;
  }
  j["max_rows"] = max_rows;
  j["file_max_rows"] = file_max_rows;
  j["file_max_bytes"] = file_max_bytes;
  j["compression"] = compression_name(compression);
  if (compression == Compression::none && !xlsx) j["compression_level"] = nullptr;
  else j["compression_level"] = compression_level;
  j["expires_days"] = expires_days;
  j["output_name"] = output_name;
  j["exclusive"] = exclusive;
  if (date_column.empty()) j["date_column"] = nullptr;
  else j["date_column"] = date_column;
  if (pivot) j["pivot"] = pivot_to_json(*pivot);
  else j["pivot"] = nullptr;
  j["pivot_max_columns"] = pivot_max_columns;
  if (schedule.empty()) j["schedule"] = nullptr;
  else j["schedule"] = schedule;
  if (incremental_column.empty()) j["incremental"] = nullptr;
  else j["incremental"] = json{{"column", incremental_column}};
  if (xlsx) {
    for (const auto &r : xlsx_refused_options()) j.erase(r.name);
    // The zip's level shows only when it is not the default: a definition switched back to a
    // text format without compression would otherwise carry a level that format refuses.
    if (compression_level == kXlsxDefaultZipLevel) j.erase("compression_level");
  }
  return j;
}

}  // namespace sqlexport
