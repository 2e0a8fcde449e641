// scan_floor.cpp: the benchmark's "scan floor" (cases 2 and 6 of bench/run.sh).
//
// Steps `SELECT * FROM <table>` on a read-only connection and reads every column of every row,
// as an exporter must, but writes nothing. Its time is what one SQLite reader costs before any
// formatting or writing: the floor for a single-reader export.
//   default  (case 2, the definition) a default connection (serialized: every
//            sqlite3_column_* call takes the connection's mutex), sqlite3_column_type then the
//            matching sqlite3_column_* accessor;
//   --fast   (case 6) what the extension's readers do: a SQLITE_OPEN_NOMUTEX connection, one
//            sqlite3_column_value per column, then the sqlite3_value_* accessors.
//
//   g++ -O2 -std=c++20 bench/scan_floor.cpp -o bench/data/scan_floor -lsqlite3
//   bench/data/scan_floor [--fast] DB [TABLE]      -> prints the row count on stdout
//
// Exit status 0 on success, 1 on any SQLite error (message on stderr).
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

// Receives the checksum of every value read, so the compiler cannot drop the reads.
volatile uint64_t g_sink = 0;

// Prints the connection's error with a prefix and returns the exit status for a failure.
int fail(sqlite3 *db, const char *what) {
  std::fprintf(stderr, "scan_floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
  return 1;
}

}  // namespace

// Adds a checksum of value v (read with the sqlite3_value_* accessors) to sink.
void read_value(sqlite3_value *v, uint64_t &sink) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      sink += static_cast<uint64_t>(sqlite3_value_int64(v));
      break;
    case SQLITE_FLOAT: {
      double d = sqlite3_value_double(v);
      sink += static_cast<uint64_t>(d != d ? 0 : 1);
      break;
    }
    case SQLITE_TEXT: {
      const unsigned char *t = sqlite3_value_text(v);
      int n = sqlite3_value_bytes(v);
      sink += static_cast<uint64_t>(n) + (n > 0 ? t[0] : 0);
      break;
    }
    case SQLITE_BLOB: {
      const void *b = sqlite3_value_blob(v);
      int n = sqlite3_value_bytes(v);
      sink += static_cast<uint64_t>(n) + (n > 0 ? static_cast<const unsigned char *>(b)[0] : 0);
      break;
    }
    default:  // SQLITE_NULL
      ++sink;
      break;
  }
}

int main(int argc, char **argv) {
  bool fast = argc > 1 && std::string(argv[1]) == "--fast";
  if (fast) {
    --argc;
    ++argv;
  }
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: scan_floor [--fast] DB [TABLE]\n");
    return 2;
  }
  std::string table = argc > 2 ? argv[2] : "orders";
  sqlite3 *db = nullptr;
  int flags = SQLITE_OPEN_READONLY | (fast ? SQLITE_OPEN_NOMUTEX : 0);
  if (sqlite3_open_v2(argv[1], &db, flags, nullptr) != SQLITE_OK) {
    int rc = fail(db, "open");
    sqlite3_close(db);
    return rc;
  }
  // Quote the table name as an identifier; the default "orders" needs no quoting.
  std::string quoted = "\"";
  for (char c : table) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  quoted += '"';
  std::string sql = "SELECT * FROM " + quoted;
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    int rc = fail(db, "prepare");
    sqlite3_close(db);
    return rc;
  }
  const int ncol = sqlite3_column_count(st);
  int64_t rows = 0;
  uint64_t sink = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (fast) {
      for (int i = 0; i < ncol; ++i) read_value(sqlite3_column_value(st, i), sink);
      ++rows;
      continue;
    }
    for (int i = 0; i < ncol; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
          sink += static_cast<uint64_t>(sqlite3_column_int64(st, i));
          break;
        case SQLITE_FLOAT: {
          double d = sqlite3_column_double(st, i);
          sink += static_cast<uint64_t>(d != d ? 0 : 1);
          break;
        }
        case SQLITE_TEXT: {
          const unsigned char *t = sqlite3_column_text(st, i);
          int n = sqlite3_column_bytes(st, i);
          sink += static_cast<uint64_t>(n) + (n > 0 ? t[0] : 0);
          break;
        }
        case SQLITE_BLOB: {
          const void *b = sqlite3_column_blob(st, i);
          int n = sqlite3_column_bytes(st, i);
          sink += static_cast<uint64_t>(n) + (n > 0 ? static_cast<const unsigned char *>(b)[0] : 0);
          break;
        }
        default:  // SQLITE_NULL
          ++sink;
          break;
      }
    }
    ++rows;
  }
  if (rc != SQLITE_DONE) {
    int r = fail(db, "step");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  g_sink = sink;
  std::printf("%lld\n", static_cast<long long>(rows));
  return 0;
}
