/*
** sqlite_export.h: public header of sqlite-export, an asynchronous export service for SQLite.
**
** As a loadable module:   .load ./build/export        (entry point sqlite3_export_init)
** Linked statically:       sqlite3_auto_extension((void (*)(void))sqlite3_export_init);
**                          then every connection opened afterwards has the extension.
*/
#ifndef SQLITE_EXPORT_H
#define SQLITE_EXPORT_H

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct sqlite3_api_routines;

#define SQLITE_EXPORT_VERSION "0.1.0"

/* Registers the extension's functions and tables on db and starts its export service. */
int sqlite3_export_init(struct sqlite3 *db, char **pzErrMsg, const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif
#endif
