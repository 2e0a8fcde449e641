-- Incremental exports (issue 17): every validation rule of option 'incremental' and of export_run's
-- argument 3 (metadata), with its exact error; a rejected write or call stores nothing.
.load $MODULE
.timeout 5000
SELECT export_config('workers', 0);
CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, updated_at TEXT);
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE VIEW recent AS SELECT id, kind FROM events;
INSERT INTO events VALUES (1, 'a', '2024-01-01T00:00:01Z'), (2, 'b', NULL), (3, 'c', '2024-01-01T00:00:03Z');
-- the option: an object naming a column of the source
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": "id"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": ["id"]}');
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": 1}');
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": {"column": "nope"}}');
-- "rowid" needs a table with a rowid
INSERT INTO exports(name, source, options) VALUES ('a', 'kv', '{"incremental": {"column": "rowid"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'recent', '{"incremental": {"column": "rowid"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'SELECT id, kind FROM events', '{"incremental": {"column": "rowid"}}');
-- not with a pivot; only with exclusive
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": {"column": "id"}, "pivot": {"fields": ["kind"]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'events', '{"incremental": {"column": "id"}, "exclusive": false}');
-- nothing was stored
SELECT count(*) FROM exports;
-- accepted: any column of the source, rowid of a rowid table
INSERT INTO exports(name, source, options) VALUES ('by_time', 'events', '{"incremental": {"column": "updated_at"}}');
INSERT INTO exports(name, source, options) VALUES ('by_rowid', 'events', '{"incremental": {"column": "rowid"}}');
INSERT INTO exports(name, source, options) VALUES ('by_id', 'recent', '{"incremental": {"column": "id"}}');
INSERT INTO exports(name, source) VALUES ('plain', 'events');
SELECT name, json_extract(options, '$.incremental'), json_extract(options, '$.exclusive') FROM exports ORDER BY name;
-- UPDATE validates the same way
UPDATE exports SET options = json_set(options, '$.exclusive', json('false')) WHERE name = 'by_time';
UPDATE exports SET options = json_set(options, '$.incremental', json('{"column": "nope"}')) WHERE name = 'plain';
SELECT json_extract(options, '$.exclusive') FROM exports WHERE name = 'by_time';
-- the first run would export the rows whose column is not NULL
SELECT export_count('by_time'), export_count('by_rowid'), export_count('by_id'), export_count('plain');
-- export_run's metadata (argument 3)
SELECT export_run('plain', '[]', '[1]');
SELECT export_run('plain', '[]', '"x"');
SELECT export_run('plain', '[]', 'not json');
SELECT export_run('plain', '[]', '{"a": 1');
SELECT export_run('plain', '[]', '{"requested_by": 5}');
SELECT export_run('by_time', '[]', '{"full": "yes"}');
SELECT export_run('by_time', '[]', '{"full": 1}');
SELECT export_run('plain', '[]', '{"full": true}');
SELECT count(*) FROM export_runs;
-- accepted: known keys and any other key, kept as given
SELECT length(export_run('by_time', '[]', '{"requested_by": "me", "full": true, "ticket": [1, "x"]}'));
SELECT length(export_run('plain', '[]', NULL));
SELECT export_name, number, status, origin, requested_by, json_extract(metadata, '$.full'), json_extract(metadata, '$.ticket[1]'), scheduled_for IS NULL, watermark_from IS NULL FROM export_runs ORDER BY export_name;
SELECT metadata IS NULL, watermark_to IS NULL FROM export_runs WHERE export_name = 'plain';
-- a BLOB in the incremental column has no watermark form
CREATE TABLE blobs(id INTEGER PRIMARY KEY, v BLOB);
INSERT INTO blobs VALUES (1, x'00ff');
INSERT INTO exports(name, source, options) VALUES ('blobs', 'blobs', '{"incremental": {"column": "v"}}');
SELECT export_sql('blobs', '[]');
-- next_run_at, skipped_runs and last_skipped_at are kept by the scheduler
INSERT INTO exports(name, source, next_run_at) VALUES ('ro1', 'events', '2030-01-01T00:00:00.000Z');
INSERT INTO exports(name, source, skipped_runs) VALUES ('ro2', 'events', 3);
UPDATE exports SET last_skipped_at = 'now' WHERE name = 'blobs';
UPDATE exports SET next_run_at = next_run_at, skipped_runs = skipped_runs, format = 'tsv' WHERE name = 'blobs';
SELECT format FROM exports WHERE name = 'blobs';
SELECT count(*) FROM exports WHERE name IN ('ro1', 'ro2');
-- the test clock's setting
SELECT export_config('clock_offset_ms', 'soon');
SELECT export_config('clock_offset_ms', 1.5);
SELECT export_config('clock_offset_ms');
