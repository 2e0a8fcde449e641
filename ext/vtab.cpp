// vtab.cpp: the frame of the extension's eponymous virtual tables.
//
// idxNum of xBestIndex: 0 = full scan; k > 0 = equality lookup on column k-1 (the value is
// argv[0] of xFilter), served by an index of the backing table.
#include "vtab.h"

#include <new>

#include "errors.h"
#include "functions.h"
#include "schema.h"

namespace sqlexport {

namespace {

struct ModuleData {
  const TableSpec *spec;
  std::shared_ptr<Service> svc;
};

struct Table {
  sqlite3_vtab base{};
  sqlite3 *db;
  ModuleData *data;
};

struct Cursor {
  sqlite3_vtab_cursor base{};
  Stmt stmt;
  bool eof = true;
};

int x_connect(sqlite3 *db, void *aux, int, const char *const *, sqlite3_vtab **out, char **err) {
  auto *data = static_cast<ModuleData *>(aux);
  int rc = sqlite3_declare_vtab(db, data->spec->declaration);
  if (rc != SQLITE_OK) return rc;
  // Writes of these tables delete or create files: keep them out of triggers and views.
  if (data->spec->direct_only) sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  auto *t = new (std::nothrow) Table{{}, db, data};
  if (!t) return SQLITE_NOMEM;
  *out = &t->base;
  (void)err;
  return SQLITE_OK;
}

int x_disconnect(sqlite3_vtab *vt) {
  delete reinterpret_cast<Table *>(vt);
  return SQLITE_OK;
}

int x_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  auto *t = reinterpret_cast<Table *>(vt);
  const auto &lookup = t->data->spec->lookup;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto &c = info->aConstraint[i];
    if (!c.usable || c.op != SQLITE_INDEX_CONSTRAINT_EQ || c.iColumn < 0) continue;
    if (static_cast<size_t>(c.iColumn) < lookup.size() && lookup[static_cast<size_t>(c.iColumn)]) {
      info->idxNum = c.iColumn + 1;
      info->aConstraintUsage[i].argvIndex = 1;
      info->aConstraintUsage[i].omit = 1;
      info->estimatedCost = 10;
      info->estimatedRows = 1;
      return SQLITE_OK;
    }
  }
  info->idxNum = 0;
  info->estimatedCost = 100000;
  info->estimatedRows = 1000;
  return SQLITE_OK;
}

int x_open(sqlite3_vtab *, sqlite3_vtab_cursor **out) {
  auto *c = new (std::nothrow) Cursor;
  if (!c) return SQLITE_NOMEM;
  *out = &c->base;
  return SQLITE_OK;
}

int x_close(sqlite3_vtab_cursor *cur) {
  delete reinterpret_cast<Cursor *>(cur);
  return SQLITE_OK;
}

int set_error(sqlite3_vtab *vt, const char *where) {
  int rc = SQLITE_ERROR;
  std::string msg = describe_error(where, &rc);
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf("%s", msg.c_str());
  return rc;
}

int x_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *, int argc, sqlite3_value **argv) {
  auto *c = reinterpret_cast<Cursor *>(cur);
  auto *t = reinterpret_cast<Table *>(cur->pVtab);
  try {
    c->stmt = Stmt();
    c->eof = true;
    if (!schema_exists(t->db)) return SQLITE_OK;  // no tables yet: nothing to show
    std::string sql = t->data->spec->select;
    if (idx_num > 0)
      sql += std::string(sql.find(" WHERE ") == std::string::npos ? " WHERE " : " AND ") +
             t->data->spec->lookup[static_cast<size_t>(idx_num - 1)] + " = ?1";
    sql += " ORDER BY 1";
    c->stmt = Stmt(t->db, sql);
    if (idx_num > 0 && argc > 0) {
      int rc = sqlite3_bind_value(c->stmt.get(), 1, argv[0]);
      if (rc != SQLITE_OK) throw_sqlite(t->db, rc);
    }
    c->eof = !c->stmt.step();
    return SQLITE_OK;
  } catch (...) {
    return set_error(cur->pVtab, t->data->spec->name);
  }
}

int x_next(sqlite3_vtab_cursor *cur) {
  auto *c = reinterpret_cast<Cursor *>(cur);
  try {
    c->eof = !c->stmt.step();
    return SQLITE_OK;
  } catch (...) {
    return set_error(cur->pVtab, reinterpret_cast<Table *>(cur->pVtab)->data->spec->name);
  }
}

int x_eof(sqlite3_vtab_cursor *cur) { return reinterpret_cast<Cursor *>(cur)->eof ? 1 : 0; }

int x_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  auto *c = reinterpret_cast<Cursor *>(cur);
  // During an UPDATE, columns not being changed arrive in xUpdate as "no change" values.
  if (sqlite3_vtab_nochange(ctx)) return SQLITE_OK;
  sqlite3_result_value(ctx, sqlite3_column_value(c->stmt.get(), col + 1));
  return SQLITE_OK;
}

int x_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = sqlite3_column_int64(reinterpret_cast<Cursor *>(cur)->stmt.get(), 0);
  return SQLITE_OK;
}

int x_update(sqlite3_vtab *vt, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  auto *t = reinterpret_cast<Table *>(vt);
  try {
    t->data->spec->update(t->db, *t->data->svc, argc, argv, rowid);
    return SQLITE_OK;
  } catch (...) {
    return set_error(vt, t->data->spec->name);
  }
}

void destroy_module(void *p) { delete static_cast<ModuleData *>(p); }

sqlite3_module make_module() {
  sqlite3_module m{};
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous-only: no CREATE VIRTUAL TABLE
  m.xConnect = x_connect;
  m.xBestIndex = x_best_index;
  m.xDisconnect = x_disconnect;
  m.xDestroy = x_disconnect;
  m.xOpen = x_open;
  m.xClose = x_close;
  m.xFilter = x_filter;
  m.xNext = x_next;
  m.xEof = x_eof;
  m.xColumn = x_column;
  m.xRowid = x_rowid;
  m.xUpdate = x_update;
  return m;
}

const sqlite3_module kModule = make_module();

}  // namespace

int register_table(sqlite3 *db, const TableSpec &spec, const std::shared_ptr<Service> &svc) {
  auto *data = new (std::nothrow) ModuleData{&spec, svc};
  if (!data) return SQLITE_NOMEM;
  // On failure SQLite calls destroy_module itself.
  return sqlite3_create_module_v2(db, spec.name, &kModule, data, destroy_module);
}

}  // namespace sqlexport
