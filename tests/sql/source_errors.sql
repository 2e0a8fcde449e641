-- Runtime errors of the source itself: a run whose source's SQL or data fails while it is read
-- (an overflowing sum() or abs(), malformed JSON, a value too big, a function the worker's
-- connection lacks) ends FAILED with "invalid_request: the source failed <where>: <SQLite's
-- message>", not "internal", and leaves no file. Each definition is accepted: the error only
-- shows when the rows are read.
.load $MODULE
.timeout 5000
PRAGMA journal_mode = WAL;
CREATE TABLE sales(id INTEGER PRIMARY KEY, region TEXT, amount INTEGER);
INSERT INTO sales(region, amount) VALUES ('east', 1), ('north', 9223372036854775807), ('north', 9223372036854775807), ('west', 2);
-- a pivot whose sum() overflows in its second group (north): row 2
INSERT INTO exports(name, source, options) VALUES ('by_region', 'sales', '{"pivot": {"fields": ["region"], "summaries": [{"aggregator": "sum", "column": "amount"}]}}');
SELECT export_wait(export_run('by_region', '[]'));
SELECT status, failure_reason, rows_written, file_count FROM export_runs WHERE export_name = 'by_region';
-- abs() of the smallest integer overflows: the third row of the SELECT source
UPDATE sales SET amount = -9223372036854775808 WHERE id = 3;
INSERT INTO exports(name, source) VALUES ('magnitudes', 'SELECT id, abs(amount) AS magnitude FROM sales');
SELECT export_wait(export_run('magnitudes', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'magnitudes';
-- a view that reads JSON, one document of which is not JSON: row 3
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs(body) VALUES ('{"sku": "a-1"}'), ('{"sku": "b-2"}'), ('not json'), ('{"sku": "d-4"}');
CREATE VIEW skus AS SELECT id, json_extract(body, '$.sku') AS sku FROM docs;
INSERT INTO exports(name, source) VALUES ('skus', 'skus');
SELECT export_wait(export_run('skus', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'skus';
-- the same view with criteria: the run counts its rows first, and that is where it fails
SELECT export_wait(export_run('skus', '[{"attribute": "sku", "operator": "IS_NOT_EMPTY"}]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'skus' AND number = 2;
-- a value past SQLite's length limit (SQLITE_TOOBIG), in the second row
CREATE TABLE sizes(id INTEGER PRIMARY KEY, n INTEGER);
INSERT INTO sizes(n) VALUES (4), (2000000000), (8);
INSERT INTO exports(name, source) VALUES ('padding', 'SELECT id, hex(zeroblob(n)) AS z FROM sizes');
SELECT export_wait(export_run('padding', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'padding';
-- a view calling a function of this connection (the shell's sha3()), which the worker's own
-- connection does not have: the run's first statement does not compile
CREATE VIEW digests AS SELECT id, hex(sha3(body)) AS digest FROM docs;
INSERT INTO exports(name, source) VALUES ('digests', 'digests');
SELECT export_wait(export_run('digests', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'digests';
-- a table read in parallel (export_config 'parallel'), whose generated column fails at rowid
-- 70000: the readers know the rowid range of the failing chunk, not the row's number
CREATE TABLE events(id INTEGER PRIMARY KEY, payload TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO events SELECT i, CASE WHEN i = 70000 THEN 'broken' ELSE '{"kind": "click"}' END FROM n;
ALTER TABLE events ADD COLUMN kind AS (json_extract(payload, '$.kind'));
INSERT INTO exports(name, source) VALUES ('events', 'events');
SELECT export_config('parallel', 2);
SELECT export_wait(export_run('events', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'events';
-- read by one connection, the same run names the row
SELECT export_config('parallel', 1);
SELECT export_wait(export_run('events', '[]'));
SELECT status, failure_reason FROM export_runs WHERE export_name = 'events' AND number = 2;
-- no failed run left a file behind
SELECT count(*) FROM export_files;
