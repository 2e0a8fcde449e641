-- Expiry: expires_at = finish + expires_days; export_purge() deletes the files of expired runs
-- and marks them EXPIRED; running it again changes nothing.
.load $MODULE
PRAGMA journal_mode = WAL;
CREATE TABLE t(a); INSERT INTO t VALUES (1);
INSERT INTO exports(name, source, options) VALUES ('t', 't', '{"expires_days": 2, "exclusive": false}');
SELECT export_wait(export_run('t', '[]'));
SELECT export_wait(export_run('t', '[]'));
SELECT number, round(julianday(expires_at) - julianday(finished_at), 3) FROM export_runs ORDER BY number;
SELECT export_purge();
-- pretend run 1 finished three days ago
UPDATE _export_runs SET expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day') WHERE number = 1;
SELECT export_purge();
SELECT number, status FROM export_runs ORDER BY number;
SELECT readfile('test.db-exports/t-1.csv') IS NULL, readfile('test.db-exports/t-2.csv') IS NOT NULL;
SELECT export_purge();
SELECT export_download((SELECT f.id FROM export_files f JOIN export_runs r ON r.id = f.run_id WHERE r.number = 1));
