// schema.h: the extension's own tables (sql/schema.sql), created on first use and migrated.
#pragma once
#include "common.h"

namespace sqlexport {

inline constexpr int kSchemaVersion = 1;

// True when the extension's tables exist in db's main schema.
bool schema_exists(sqlite3 *db);
// Create or migrate the tables in db's main schema (inside the caller's transaction when there
// is one). Throws ExportError / SqliteError.
void ensure_schema(sqlite3 *db);

}  // namespace sqlexport
