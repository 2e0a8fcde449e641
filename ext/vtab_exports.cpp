// vtab_exports.cpp: `exports`, the writable table of export definitions (SPEC section 3).
//
//   INSERT INTO exports(name, source, columns, criteria, format, options)
//     VALUES ('orders', 'orders', '["id","total"]', NULL, 'csv', '{"header": true}');
//   SELECT id, name, options FROM exports WHERE name = 'orders';   -- lookup, no scan
//   UPDATE exports SET format = 'jsonl' WHERE name = 'orders';
//   DELETE FROM exports WHERE name = 'orders';                     -- with its runs and files
//
// Every write is validated before anything is stored: the source exists and is read-only,
// every column exists, the options are known and well-typed, fixed criteria compile. A
// definition with a CREATED or RUNNING run cannot be changed or deleted (state_conflict).
#include <optional>

#include <fmt/format.h>

#include "criteria.h"
#include "errors.h"
#include "query.h"
#include "runs.h"
#include "schedule.h"
#include "schema.h"
#include "service.h"
#include "util.h"
#include "vtab.h"

namespace sqlexport {

using nlohmann::json;

namespace {

enum Col { kId, kName, kSource, kColumns, kCriteria, kFormat, kOptions, kCreatedAt, kUpdatedAt, kNextRunAt, kSkippedRuns,
           kLastSkippedAt };
const char *const kColNames[] = {"id",         "name",       "source",      "columns",      "criteria",
                                 "format",     "options",    "created_at",  "updated_at",   "next_run_at",
                                 "skipped_runs", "last_skipped_at"};

[[noreturn]] void bad(const std::string &msg) { throw ExportError(Code::invalid_request, msg); }

std::optional<Definition> load_by_rowid(sqlite3 *db, sqlite3_int64 rowid) {
  Stmt s(db, "SELECT id FROM main._export_definitions WHERE rowid = ?1");
  s.bind(1, static_cast<int64_t>(rowid));
  if (!s.step()) return std::nullopt;
  return find_definition(db, s.text(0));
}

void check_idle(sqlite3 *db, const Definition &d, const char *action) {
  Stmt s(db, "SELECT number, status FROM main._export_runs WHERE export_id = ?1 AND status IN ('CREATED', 'RUNNING')");
  s.bind(1, d.id);
  if (s.step())
    throw ExportError(Code::state_conflict, fmt::format("cannot {} export '{}': its run {} is {}; abort it or wait for it",
                                                        action, d.name, s.int64(0), s.text(1)));
}

// A column's new value: the old one when the UPDATE does not change it; nullopt for NULL.
std::optional<std::string> value_of(sqlite3_value **argv, int col, const std::optional<std::string> &old) {
  sqlite3_value *v = update_column(argv, col);
  if (sqlite3_value_nochange(v)) return old;
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL) return std::nullopt;
  if (type != SQLITE_TEXT) bad(fmt::format("{} must be text", kColNames[col]));
  return std::string(reinterpret_cast<const char *>(sqlite3_value_text(v)), static_cast<size_t>(sqlite3_value_bytes(v)));
}

// Whether v equals what column col (next_run_at, skipped_runs, last_skipped_at) holds for id.
bool same_as_stored(sqlite3 *db, const std::string &id, int col, sqlite3_value *v) {
  Stmt s(db, fmt::format("SELECT {} IS ?2 FROM main._export_definitions WHERE id = ?1", kColNames[col]));
  s.bind(1, id);
  if (sqlite3_bind_value(s.get(), 2, v) != SQLITE_OK) return false;
  return s.step() && s.int64(0) == 1;
}

// The schedule text of stored options ("" for none).
std::string stored_schedule(const std::string &options_text) {
  json j = json::parse(options_text, nullptr, false);
  return j.is_object() && j.contains("schedule") && j["schedule"].is_string() ? j["schedule"].get<std::string>() : "";
}

std::optional<std::string> opt_json(const json &j) {
  if (j.is_null()) return std::nullopt;
  return j.dump();
}

void delete_definition(sqlite3 *db, Service &svc, sqlite3_int64 rowid) {
  auto d = load_by_rowid(db, rowid);
  if (!d) return;
  check_idle(db, *d, "delete");
  std::string out = svc.config().output_dir;
  Stmt runs(db, "SELECT id FROM main._export_runs WHERE export_id = ?1");
  runs.bind(1, d->id);
  while (runs.step()) delete_run_files(db, runs.text(0), out);
  Stmt f(db, "DELETE FROM main._export_files WHERE run_id IN (SELECT id FROM main._export_runs WHERE export_id = ?1)");
  f.bind(1, d->id);
  f.exec();
  Stmt r(db, "DELETE FROM main._export_runs WHERE export_id = ?1");
  r.bind(1, d->id);
  r.exec();
  Stmt x(db, "DELETE FROM main._export_definitions WHERE id = ?1");
  x.bind(1, d->id);
  x.exec();
}

void update_exports(sqlite3 *db, Service &svc, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  if (argc == 1) {
    delete_definition(db, svc, sqlite3_value_int64(argv[0]));
    return;
  }
  bool insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
  std::optional<Definition> old;
  if (!insert) {
    old = load_by_rowid(db, sqlite3_value_int64(argv[0]));
    if (!old) throw ExportError(Code::not_found, "the export to update no longer exists");
    if (sqlite3_value_int64(argv[1]) != sqlite3_value_int64(argv[0])) bad("rowid cannot be changed");
    check_idle(db, *old, "change");
  } else if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    bad("rowid is generated; leave it out");
  }
  // Generated columns: id, created_at, updated_at; next_run_at and the skips come from the
  // schedule. An UPDATE may write back the value they hold.
  for (int col : {kId, kCreatedAt, kUpdatedAt, kNextRunAt, kSkippedRuns, kLastSkippedAt}) {
    sqlite3_value *v = update_column(argv, col);
    if (sqlite3_value_nochange(v)) continue;
    if (col >= kNextRunAt) {
      if (insert ? sqlite3_value_type(v) != SQLITE_NULL && !(col == kSkippedRuns && sqlite3_value_int64(v) == 0)
                 : !same_as_stored(db, old->id, col, v))
        bad(fmt::format("{} is kept by the scheduler from option 'schedule'; leave it out", kColNames[col]));
      continue;
    }
    if (insert) {
      if (sqlite3_value_type(v) != SQLITE_NULL) bad(fmt::format("{} is generated; leave it out", kColNames[col]));
    } else {
      std::string was = col == kId ? old->id : col == kCreatedAt ? old->created_at : old->updated_at;
      const unsigned char *t = sqlite3_value_text(v);
      if (!t || was != reinterpret_cast<const char *>(t)) bad(fmt::format("{} cannot be changed", kColNames[col]));
    }
  }
  auto name = value_of(argv, kName, old ? std::optional<std::string>(old->name) : std::nullopt);
  auto source = value_of(argv, kSource, old ? std::optional<std::string>(old->source) : std::nullopt);
  auto columns = value_of(argv, kColumns, old ? opt_json(old->columns) : std::nullopt);
  auto criteria = value_of(argv, kCriteria, old ? opt_json(old->criteria) : std::nullopt);
  auto format = value_of(argv, kFormat, old ? std::optional<std::string>(format_name(old->format)) : std::nullopt);
  auto options = value_of(argv, kOptions, old ? std::optional<std::string>(old->options_text) : std::nullopt);

  if (!name || name->empty()) bad("name is required");
  if (!is_valid_utf8(*name) || name->find('\0') != std::string::npos)
    bad("name must be UTF-8 text without NUL characters");
  if (!source || source->empty()) bad("source is required: a table or view name, or one SELECT statement");
  Format fmt_ = parse_format(format ? *format : "csv");
  Source src = resolve_source(db, *source);
  json columns_json = columns ? parse_json_text(*columns, "columns") : json();
  resolve_columns(columns_json, src);
  Options opts = parse_options(options ? *options : "", fmt_, *name, src.columns);
  check_pivot_columns(columns_json, opts);
  json criteria_json;
  if (criteria) {
    criteria_json = parse_json_text(*criteria, "criteria");
    compile_criteria(criteria_json, src.columns, opts.date_column);
  }
  if (!opts.incremental_column.empty()) incremental_expr(opts, src);  // "rowid" needs one
  if (!opts.schedule.empty() && criteria_json.is_null())
    bad("option 'schedule' needs criteria fixed in the definition (a scheduled run gives none); set criteria, '[]' "
        "for every row");
  // The next due time: kept while the schedule stays the same, else the first after now.
  std::optional<std::string> next_run_at;
  if (!opts.schedule.empty()) {
    if (!insert && stored_schedule(old->options_text) == opts.schedule) {
      Stmt s(db, "SELECT next_run_at FROM main._export_definitions WHERE id = ?1");
      s.bind(1, old->id);
      if (s.step() && !s.is_null(0)) next_run_at = s.text(0);
    }
    if (!next_run_at) next_run_at = iso_time(Schedule::parse(opts.schedule).next_after(schedule_now_ms()));
  }
  std::string id = insert ? new_id() : old->id;
  ensure_schema(db);  // everything above is validated: now the tables may be created
  {
    Stmt s(db, "SELECT 1 FROM main._export_definitions WHERE name = ?1 AND id <> ?2");
    s.bind(1, *name).bind(2, id);
    if (s.step()) bad(fmt::format("name '{}' is already used by another export", *name));
  }
  {
    Stmt s(db,
           "SELECT name FROM main._export_definitions WHERE json_extract(options, '$.output_name') = ?1 AND id <> ?2");
    s.bind(1, opts.output_name).bind(2, id);
    if (s.step())
      bad(fmt::format("output_name '{}' is already used by export '{}'; their files would collide", opts.output_name,
                      s.text(0)));
  }
  std::string now = now_iso();
  std::string options_text = opts.to_json().dump();
  std::string format_text = format_name(fmt_);
  std::optional<std::string> columns_text = opt_json(columns_json), criteria_text = opt_json(criteria_json);
  if (insert) {
    Stmt s(db,
           "INSERT INTO main._export_definitions(id, name, source, columns, criteria, format, options, created_at, "
           "updated_at, next_run_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)");
    s.bind(1, id).bind(2, *name).bind(3, *source).bind_opt(4, columns_text ? &*columns_text : nullptr);
    s.bind_opt(5, criteria_text ? &*criteria_text : nullptr).bind(6, format_text).bind(7, options_text).bind(8, now);
    s.bind_opt(9, next_run_at ? &*next_run_at : nullptr);
    s.exec();
    *rowid = sqlite3_last_insert_rowid(db);
  } else {
    Stmt s(db,
           "UPDATE main._export_definitions SET name = ?2, source = ?3, columns = ?4, criteria = ?5, format = ?6, "
           "options = ?7, updated_at = ?8, next_run_at = ?9 WHERE id = ?1");
    s.bind(1, id).bind(2, *name).bind(3, *source).bind_opt(4, columns_text ? &*columns_text : nullptr);
    s.bind_opt(5, criteria_text ? &*criteria_text : nullptr).bind(6, format_text).bind(7, options_text).bind(8, now);
    s.bind_opt(9, next_run_at ? &*next_run_at : nullptr);
    s.exec();
  }
}

}  // namespace

const TableSpec kExportsTable = {
    "exports",
    "CREATE TABLE x(id TEXT, name TEXT, source TEXT, columns TEXT, criteria TEXT, format TEXT, options TEXT, "
    "created_at TEXT, updated_at TEXT, next_run_at TEXT, skipped_runs INTEGER, last_skipped_at TEXT)",
    "SELECT rowid, id, name, source, columns, criteria, format, options, created_at, updated_at, next_run_at, "
    "skipped_runs, last_skipped_at FROM main._export_definitions",
    {"id", "name"},
    true,
    update_exports,
};

}  // namespace sqlexport
