// schema.h: the extension's own tables (sql/schema.sql), created on first use and upgraded.
#pragma once
#include <cstdint>

#include "common.h"

namespace sqlexport {

inline constexpr int kSchemaVersion = 2;

// The version stored in db's main schema; 0 when the extension's tables do not exist yet.
int64_t schema_version(sqlite3 *db);
// True when the extension's tables exist in db's main schema at this build's version; false
// when they do not exist. Throws ExportError: not_admissible for a newer version,
// state_conflict for an older one not upgraded yet (see upgrade_schema).
bool schema_exists(sqlite3 *db);
// Create or upgrade the tables in db's main schema (inside the caller's transaction when there
// is one). Throws ExportError (a newer version) / SqliteError.
void ensure_schema(sqlite3 *db);
// Upgrade an older version's tables in a transaction of their own (a SAVEPOINT when db is in a
// transaction already). True when the tables are at this build's version afterwards; false
// when there are none, they are newer, or the upgrade could not run (busy, read-only): it is
// then tried again at the next use. Never throws.
bool upgrade_schema(sqlite3 *db) noexcept;

}  // namespace sqlexport
