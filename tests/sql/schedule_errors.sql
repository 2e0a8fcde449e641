-- Schedules (issue 17): option 'schedule' with its exact errors (texts of docs/SCHEDULE-GRAMMAR.md),
-- the fixed criteria a scheduled definition needs, the schedule shown normalised, next_run_at;
-- a rejected write stores nothing. (No worker: nothing runs; the times are checked for their form only.)
.load $MODULE
.timeout 5000
SELECT export_config('workers', 0);
SELECT export_config('clock_offset_ms');
CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, updated_at TEXT);
-- texts that are no schedule
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every day"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": ""}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "0 0 * *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every -1 hours"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every 2 weeks"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every 0 minutes"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every 366 days"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every 2 hours at 02:00"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "every 1 day at 25:00"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "@reboot"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "0 24 * * *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "0 0 * JANUARY *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "1--2 * * * *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "0 22-2 * * *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "*/0 * * * *"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', '[]', '{"schedule": "0 0 31 2 *"}');
-- a scheduled run gives no criteria: the definition must fix them
INSERT INTO exports(name, source, criteria, options) VALUES ('a', 'events', NULL, '{"schedule": "every 15 minutes"}');
SELECT count(*) FROM exports;
SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_export%' ESCAPE '\';
-- accepted: shown normalised, with the next due time (UTC)
INSERT INTO exports(name, source, criteria, options) VALUES ('s1', 'events', '[]', '{"schedule": "EVERY 15 minute"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('s2', 'events', '[]', '{"schedule": "every 1 days at 2:00"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('s3', 'events', '[]', '{"schedule": "0 2 * * mon-fri"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('s4', 'events', '[]', '{"schedule": "@Daily"}');
INSERT INTO exports(name, source, criteria, options) VALUES ('s5', 'events', '[{"attribute": "kind", "operator": "IS_EQUAL_TO", "value": "a"}]', '{"schedule": "every  2\thours"}');
INSERT INTO exports(name, source) VALUES ('s6', 'events');
SELECT name, json_extract(options, '$.schedule'), json_type(options, '$.schedule'), skipped_runs, last_skipped_at IS NULL FROM exports ORDER BY name;
SELECT name, next_run_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:00.000Z', next_run_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM exports WHERE name <> 's6' ORDER BY name;
SELECT name, substr(next_run_at, 12) FROM exports WHERE name IN ('s2', 's3', 's4') ORDER BY name;
SELECT CAST(substr(next_run_at, 15, 2) AS INTEGER) % 15 FROM exports WHERE name = 's1';
SELECT CAST(substr(next_run_at, 12, 2) AS INTEGER) % 2, substr(next_run_at, 15) FROM exports WHERE name = 's5';
SELECT next_run_at IS NULL FROM exports WHERE name = 's6';
-- UPDATE: criteria stay fixed; a bad schedule is refused; removing the schedule clears next_run_at
UPDATE exports SET criteria = NULL WHERE name = 's1';
UPDATE exports SET options = json_set(options, '$.schedule', 'every 2 weeks') WHERE name = 's1';
UPDATE exports SET options = json_set(options, '$.schedule', 'every 1 hour') WHERE name = 's6';
UPDATE exports SET options = json_set(options, '$.schedule', NULL) WHERE name = 's1';
UPDATE exports SET options = json_remove(options, '$.schedule') WHERE name = 's2';
SELECT name, json_type(options, '$.schedule'), next_run_at IS NULL FROM exports WHERE name IN ('s1', 's2') ORDER BY name;
UPDATE exports SET criteria = NULL WHERE name = 's1';
SELECT criteria IS NULL FROM exports WHERE name = 's1';
