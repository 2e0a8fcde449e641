-- Definitions and runs survive the process and are visible to a second process: the lines
-- below run in a second sqlite3 process, after a first one defined and ran an export.
-- shell: sqlite3 -cmd ".load $EXPORT_MODULE_STEM" test.db "PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1), (2); INSERT INTO exports(name, source, format) VALUES ('t', 't', 'jsonl'); SELECT export_wait(export_run('t', '[]'));" > /dev/null
-- shell: sqlite3 -cmd ".load $EXPORT_MODULE_STEM" test.db "SELECT export_config('workers', 0); INSERT INTO exports(name, source) VALUES ('queued', 't'); SELECT length(export_run('queued', '[]'));" > /dev/null
.load $MODULE
SELECT name, source, format FROM exports ORDER BY name;
SELECT export_name, number, status, rows_written FROM export_runs WHERE export_name = 't';
-- the run queued by a process with no worker is executed by this one (durable queue)
SELECT export_wait((SELECT id FROM export_runs WHERE export_name = 'queued'), 20000);
SELECT CAST(readfile('test.db-exports/t-1.jsonl') AS TEXT);
SELECT CAST(readfile('test.db-exports/queued-1.csv') AS TEXT);
