-- The extension loads, answers its version, and adds exactly these functions and tables.
.load $MODULE
SELECT export_version();
SELECT name, narg, (flags & 0x80000) != 0 AS directonly FROM pragma_function_list WHERE name LIKE 'export%' ORDER BY name, narg;
SELECT name FROM pragma_module_list WHERE name LIKE 'export%' ORDER BY name;
-- The eponymous tables exist with no CREATE VIRTUAL TABLE, and are empty before first use.
SELECT count(*) FROM exports;
SELECT count(*) FROM export_runs;
SELECT count(*) FROM export_files;
-- Reading creates nothing in the database.
SELECT count(*) FROM sqlite_schema;
-- A database file gets one worker by default.
SELECT export_config('workers');
