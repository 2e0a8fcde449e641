-- tutorial.sql: a first walk through sqlite-export in the sqlite3 shell.
--
-- After command 1 of the README (scripts/demo.sh builds build/export.so), from the
-- repository's root, start the shell on a new database and paste this file step by step:
--
--   sqlite3 /tmp/tutorial.db
--
-- or run it whole: sqlite3 /tmp/tutorial.db < examples/tutorial.sql
-- (remove /tmp/tutorial.db* and /tmp/tutorial.db-exports first to start again).
-- Lines starting with "--" are comments; the shell ignores them. examples/run-all.sh runs this
-- file as a test: its output must equal examples/tutorial.expected.

-- 1. Load the extension. It adds the tables exports, export_runs and export_files, and the
--    export_* functions, to this connection, and starts one background worker.
.load ./build/export
.headers on
.mode table --wrap 0
-- WAL lets the worker read while you write (recommended; the shell prints "wal").
PRAGMA journal_mode = WAL;

-- 2. Some data: 1,000 orders, a third of them paid.
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO orders
  SELECT i, 'customer ' || (i % 7), CASE i % 3 WHEN 0 THEN 'paid' ELSE 'open' END, i * 1.5 FROM n;

-- 3. Define an export once: a name, a source (table, view or SELECT), the columns and the
--    options (JSON). Everything is checked now: a wrong column or option is an error here.
INSERT INTO exports(name, source, columns, options)
  VALUES ('paid_orders', 'orders', '["id", "customer", "total"]', '{"order_by": ["id"]}');
-- Reading options shows every option, its default filled in; here three of them.
SELECT name, format, json_extract(options, '$.header') AS header,
       json_extract(options, '$.expires_days') AS expires_days FROM exports;

-- 4. Ask before running: what SQL a run would execute, and how many rows it would write.
--    Criteria are JSON; values are bound as parameters, never pasted into the SQL.
SELECT export_sql('paid_orders', '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]') AS plan;
SELECT export_count('paid_orders', '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]') AS rows;

-- 5. Run it. export_run records a run and returns its id at once; the worker does the rest
--    while you go on. Here the worker is paused first (0 workers) so that you can see the run
--    queued: status CREATED, progress 0.0. (A run's id is random, so this file shows only its
--    length; export_runs.number counts the runs of each definition: 1, 2, 3 ...)
SELECT export_config('workers', 0) AS workers;
SELECT length(export_run('paid_orders', '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]')) AS id_length;
SELECT number, status, progress, rows_written FROM export_runs;

-- 6. Start the worker again. While the run is RUNNING, repeat the SELECT on export_runs to
--    watch progress go from 0.0 to 1.0 and rows_written grow (a run of 333 rows is done at
--    once). export_wait waits until the run is final and returns its status.
SELECT export_config('workers', 1) AS workers;
SELECT export_wait(id) AS status FROM export_runs WHERE number = 1;
SELECT number, status, progress, rows_matched, rows_written, file_count FROM export_runs;

-- 7. The file: export_files lists it (its path is in the folder tutorial.db-exports beside
--    the database). export_download returns its bytes and marks it downloaded; once every file
--    of a run is downloaded, the run is DOWNLOADED. Here, the first lines of the CSV.
SELECT part, row_count, size_bytes, length(sha256) AS sha256_chars FROM export_files;
SELECT substr(CAST(export_download(id) AS TEXT), 1, 70) AS first_lines FROM export_files;
SELECT number, status FROM export_runs;

-- 8. Abort a run: export_abort returns 1 when it aborted the run, 0 when the run had already
--    ended. (UPDATE export_runs SET status = 'ABORTED' does the same.)
SELECT export_config('workers', 0) AS workers;
SELECT length(export_run('paid_orders', '[]')) AS id_length;
SELECT export_abort(id) AS aborted FROM export_runs WHERE number = 2;
SELECT export_abort(id) AS aborted_again FROM export_runs WHERE number = 2;
SELECT number, status FROM export_runs;
SELECT export_config('workers', 1) AS workers;

-- 9. Errors say what is wrong and how to fix it: "<function or table>: <code>: <message>".
--    A misspelt attribute in the criteria (the run is not recorded):
SELECT export_run('paid_orders', '[{"attribute": "stauts", "operator": "IS_EQUAL_TO", "value": "paid"}]');
--    An unknown operator:
SELECT export_run('paid_orders', '[{"attribute": "status", "operator": "EQUALS", "value": "paid"}]');
--    A run that fails in the worker records its reason in export_runs.failure_reason: here
--    a definition allows at most 100 rows (option max_rows), and 333 match.
INSERT INTO exports(name, source, options) VALUES ('small', 'orders', '{"max_rows": 100}');
SELECT export_wait(export_run('small', '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]')) AS status;
SELECT export_name, number, status, failure_reason FROM export_runs WHERE export_name = 'small';

-- 10. Clean up: deleting a definition deletes its runs and their files.
DELETE FROM exports;
SELECT count(*) AS runs_left FROM export_runs;
