-- Runs: export_run, export_wait, export_abort, export_runs, export_files, export_download.
.load $MODULE
PRAGMA journal_mode = WAL;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL);
INSERT INTO orders VALUES (1, 'ann', 'paid', 10.5), (2, 'bob', 'open', 20), (3, 'cy, "the" 3rd', 'paid', NULL), (4, '', 'void', -0.0);
INSERT INTO exports(name, source) VALUES ('orders', 'orders');
INSERT INTO exports(name, source, criteria, options) VALUES ('paid', 'orders', '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]', '{"max_rows": 1}');
-- a whole run, waited for
SELECT export_wait(export_run('orders', '[]'));
SELECT number, status, export_name, rows_matched, rows_written, file_count, progress, attempts, failure_reason,
       started_at IS NOT NULL, finished_at >= started_at, expires_at > finished_at, criteria, sql, params FROM export_runs;
SELECT part, format, compression, size_bytes, row_count, length(sha256), substr(path, -16), downloaded_at FROM export_files;
SELECT CAST(readfile('test.db-exports/orders-1.csv') AS TEXT);
SELECT size_bytes = length(readfile('test.db-exports/orders-1.csv')) FROM export_files;
-- download returns the bytes and marks the file and then the run
SELECT CAST(export_download(id) AS TEXT) = CAST(readfile('test.db-exports/orders-1.csv') AS TEXT) FROM export_files;
SELECT downloaded_at IS NOT NULL FROM export_files;
SELECT status FROM export_runs WHERE number = 1;
-- run rules: fixed criteria forbid run criteria; open definitions require them
SELECT export_run('paid', '[{"attribute": "id", "operator": "IS_EQUAL_TO", "value": 1}]');
SELECT export_run('orders');
SELECT export_run('orders', NULL);
SELECT export_run('nosuch', '[]');
SELECT export_run(NULL, '[]');
SELECT export_run('orders', 42);
SELECT export_run('orders', '[{"attribute": "id", "operator": "EQUALS", "value": 1}]');
SELECT export_run('orders', '{"logical": "OR", "items": [{"attribute": "nope", "operator": "IS_EMPTY"}]}');
-- max_rows: more rows match than allowed, the run fails before any file is written
SELECT export_wait(export_run('paid', '{}'));
SELECT status, failure_reason, file_count FROM export_runs WHERE export_name = 'paid';
SELECT count(*) FROM export_files WHERE run_id IN (SELECT id FROM export_runs WHERE export_name = 'paid');
-- transactional enqueue: a run requested in a rolled-back transaction never existed
SELECT export_config('workers', 0);
BEGIN;
SELECT length(export_run('orders', '[]'));
SELECT count(*) FROM export_runs WHERE status = 'CREATED';
ROLLBACK;
SELECT count(*) FROM export_runs WHERE status = 'CREATED';
BEGIN;
SELECT length(export_run('orders', '[]'));
COMMIT;
SELECT number, status FROM export_runs WHERE status = 'CREATED';
-- exclusive: a second run while one is queued is refused
SELECT export_run('orders', '[]');
-- export_wait with a timeout returns the current status; inside a transaction it refuses
SELECT export_wait((SELECT id FROM export_runs WHERE status = 'CREATED'), 50);
BEGIN;
SELECT export_wait((SELECT id FROM export_runs WHERE status = 'CREATED'), 50);
ROLLBACK;
-- a run requested in a transaction not yet committed cannot be waited for
BEGIN;
INSERT INTO exports(name, source, options) VALUES ('t2', 'orders', '{"exclusive": false}');
SELECT export_wait(export_run('t2', '[]'), 10);
ROLLBACK;
SELECT export_wait('nosuch', 10);
SELECT export_wait((SELECT id FROM export_runs WHERE status = 'CREATED'), -1);
-- abort a queued run: 1, then 0 once it has ended
SELECT export_abort((SELECT id FROM export_runs WHERE status = 'CREATED'));
SELECT number, status FROM export_runs WHERE number = 2 AND export_name = 'orders';
SELECT export_abort((SELECT id FROM export_runs WHERE number = 2 AND export_name = 'orders'));
SELECT export_abort('nosuch');
-- export_runs accepts only an abort and deletes only finished runs
UPDATE export_runs SET status = 'COMPLETE' WHERE number = 2 AND export_name = 'orders';
UPDATE export_runs SET attempts = 7 WHERE number = 2 AND export_name = 'orders';
DELETE FROM export_runs WHERE status = 'CREATED';
INSERT INTO export_runs(id) VALUES ('x');
UPDATE export_files SET part = 2;
-- deleting a finished run deletes its files
DELETE FROM export_runs WHERE number = 1 AND export_name = 'orders';
SELECT count(*) FROM export_files;
SELECT readfile('test.db-exports/orders-1.csv') IS NULL;
-- back to a worker: the next run goes through, numbered after the others
SELECT export_config('workers', 1);
SELECT export_wait(export_run('orders', '[{"attribute": "total", "operator": "IS_GREATER_THAN", "value": 15}]'));
SELECT number, status, rows_written FROM export_runs WHERE export_name = 'orders' ORDER BY number;
SELECT CAST(readfile('test.db-exports/orders-3.csv') AS TEXT);
-- preview functions
SELECT export_sql('orders', '[{"attribute": "customer", "operator": "STARTS_WITH", "value": "a%"}]');
SELECT export_count('orders', '[{"attribute": "status", "operator": "IS_IN", "value": ["paid", "void"]}]');
SELECT export_count('orders');
SELECT export_count('paid');
SELECT export_sql('paid', '[]');
-- settings
SELECT export_config('nosuch');
SELECT export_config('workers', -1);
SELECT export_config('workers', 'two');
SELECT export_config('lease_ms', 5);
SELECT export_config('output_dir') LIKE '%/test.db-exports';
-- purge: nothing has expired yet
SELECT export_purge();
