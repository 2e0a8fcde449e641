// extension.cpp: entry point of sqlite-export.
//
// Usage, in the sqlite3 shell:
//   .load ./build/export
//   SELECT export_version();
// or from C, for applications that link SQLite and this library statically:
//   sqlite3_auto_extension((void (*)(void))sqlite3_export_init);
//
// For each connection that loads it, the extension registers its SQL functions and its three
// eponymous virtual tables (exports, export_runs, export_files) and starts that connection's
// export service (one worker thread by default). The service stops, and its workers are joined,
// when the connection closes.
#include <memory>
#include <new>

#include "common.h"
#include "functions.h"
#include "service.h"
#include "sqlite_export.h"
#include "vtab.h"

#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

extern "C" __attribute__((visibility("default"))) int sqlite3_export_init(sqlite3 *db, char **pzErrMsg,
                                                                          const sqlite3_api_routines *pApi) {
#ifndef SQLITE_CORE
  // SQLITE_EXTENSION_INIT2, but written only when it changes: the entry point runs again for
  // every connection while workers of earlier connections read the pointer (a data race
  // otherwise, even though the value is the same).
  if (sqlite3_api != pApi) sqlite3_api = pApi;
#else
  (void)pApi;
#endif
  using namespace sqlexport;
  // The extension's own worker connections get nothing: no functions, no service of their own.
  if (opening_internal_connection()) return SQLITE_OK;
  if (sqlite3_threadsafe() == 0) {
    if (pzErrMsg)
      *pzErrMsg = sqlite3_mprintf(
          "sqlite-export needs a thread-safe SQLite (SQLITE_THREADSAFE=1 or 2): its workers run in background threads");
    return SQLITE_ERROR;
  }
  try {
    auto svc = std::make_shared<Service>(db);
    int rc = register_functions(db, svc, pzErrMsg);
    if (rc != SQLITE_OK) return rc;
    for (const TableSpec *t : {&kExportsTable, &kRunsTable, &kFilesTable}) {
      rc = register_table(db, *t, svc);
      if (rc != SQLITE_OK) {
        if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("sqlite-export: cannot register table %s: %s", t->name, sqlite3_errmsg(db));
        return rc;
      }
    }
    svc->start();
    return SQLITE_OK;
  } catch (const std::bad_alloc &) {
    return SQLITE_NOMEM;
  } catch (const std::exception &e) {
    if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("sqlite-export: %s", e.what());
    return SQLITE_ERROR;
  }
}
