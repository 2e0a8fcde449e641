// main.cpp: an application that links SQLite itself and registers sqlite-export for every
// connection with sqlite3_auto_extension, then exports a table and waits for the file.
//   usage: export_example DATABASE
#include <sqlite3.h>
#include <sqlite_export.h>

#include <cstdio>
#include <string>

static int exec_print(sqlite3 *db, const char *sql) {
  char *err = nullptr;
  int rc = sqlite3_exec(
      db, sql,
      [](void *, int n, char **values, char **names) {
        for (int i = 0; i < n; ++i) std::printf("%s=%s%s", names[i], values[i] ? values[i] : "NULL", i + 1 < n ? " " : "\n");
        return 0;
      },
      nullptr, &err);
  if (rc != SQLITE_OK) {
    std::fprintf(stderr, "error: %s\n", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: export_example DATABASE\n");
    return 2;
  }
  sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(sqlite3_export_init));
  sqlite3 *db = nullptr;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) return 1;
  // In rollback-journal mode the worker's short write transactions briefly lock readers out,
  // as any second writer would: give the connection a busy timeout (see docs/REFERENCE.md).
  sqlite3_busy_timeout(db, 5000);
  int rc = exec_print(db,
                      "CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, name TEXT);"
                      "INSERT INTO items(name) VALUES ('bolt'), ('nut'), ('washer');"
                      "INSERT INTO exports(name, source, format) VALUES ('items', 'items', 'tsv');"
                      "SELECT export_version() AS version;"
                      "SELECT export_wait(export_run('items', '[]')) AS status;"
                      "SELECT row_count, size_bytes FROM export_files;");
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : 1;
}
