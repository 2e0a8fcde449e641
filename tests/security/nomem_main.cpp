// nomem_main.cpp: main of the memory-exhaustion tests (issue 8, test 11). SQLite's allocator
// must be replaced before SQLite initializes, so this program installs a failing allocator
// (wrapping the default one) first, then runs the Catch2 session.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <cstdio>

#include "failing_malloc.h"

int main(int argc, char **argv) {
  if (!security::install_failing_malloc()) {
    std::fprintf(stderr, "nomem: cannot install the failing allocator (SQLite already initialized?)\n");
    return 2;
  }
  if (sqlite3_initialize() != SQLITE_OK) return 2;
  int rc = Catch::Session().run(argc, argv);
  sqlite3_shutdown();
  return rc;
}
