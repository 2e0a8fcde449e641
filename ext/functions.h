// functions.h: the extension's SQL functions and the helpers the virtual tables share with them.
#pragma once
#include <memory>
#include <string>

#include "common.h"

namespace sqlexport {

class Service;

// Register every SQL function on db; each holds a reference to svc. Returns an SQLite result
// code and sets *err (sqlite3_mprintf) naming the function that failed.
int register_functions(sqlite3 *db, const std::shared_ptr<Service> &svc, char **err);

// Report the exception being handled as "<where>: <code>: <message>" on a function context.
void report_error(sqlite3_context *ctx, const char *where) noexcept;
// The same text as a string, for virtual tables' zErrMsg; sets *rc to the SQLite result code.
std::string describe_error(const char *where, int *rc) noexcept;

}  // namespace sqlexport
