// common.h: the one header through which every source file reaches SQLite.
//
// The loadable module calls SQLite through the sqlite3_api table that the host passes to the
// entry point (SQLITE_EXTENSION_INIT1 in extension.cpp, INIT3 here). The static library is built
// with SQLITE_CORE and calls the real symbols of the SQLite the application links.
#pragma once

// CMakeLists.txt compiles the sources that never reach SQLite once for both libraries
// (export_objects); one that includes this header belongs with the others.
#ifdef EXPORT_SQLITE_FREE
#error "a file of export_objects reaches SQLite: move it to EXPORT_SQLITE_SOURCES in CMakeLists.txt"
#endif

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#endif
