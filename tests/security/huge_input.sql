-- huge_input.sql: inputs whose errors repeat a 1 MB value. Run by a `-- shell:` line of
-- tests/sql/security_input.sql in a second sqlite3 process (the extension loaded with -cmd),
-- whose output is cut to the length and first characters of each line.
.timeout 10000
PRAGMA journal_mode = WAL;
SELECT export_config('workers', 0);
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO exports(name, source) VALUES ('t', 't');
SELECT export_run(printf('%.*c', 1000000, 'x'), '[]');
SELECT export_sql(printf('%.*c', 1000000, 'x'));
SELECT export_count(printf('%.*c', 1000000, 'x'));
SELECT export_run('t', '[{"attribute": "' || printf('%.*c', 1000000, 'x') || '", "operator": "IS_EMPTY"}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "' || printf('%.*c', 1000000, 'x') || '"}]');
SELECT export_run('t', '{"' || printf('%.*c', 1000000, 'k') || '": 1}');
SELECT export_run('t', '"' || printf('%.*c', 1000000, 'x'));
SELECT export_wait(printf('%.*c', 1000000, 'x'));
SELECT export_abort(printf('%.*c', 1000000, 'x'));
SELECT export_download(printf('%.*c', 1000000, 'x'));
SELECT export_config(printf('%.*c', 1000000, 'x'));
INSERT INTO exports(name, source) VALUES (printf('%.*c', 1000000, 'x'), 't');
INSERT INTO exports(name, source) VALUES ('a', printf('%.*c', 1000000, 'x'));
INSERT INTO exports(name, source, format) VALUES ('a', 't', printf('%.*c', 1000000, 'x'));
INSERT INTO exports(name, source, columns) VALUES ('a', 't', json_array(printf('%.*c', 1000000, 'x')));
INSERT INTO exports(name, source, options) VALUES ('a', 't', json_object(printf('%.*c', 1000000, 'x'), 1));
INSERT INTO exports(name, source, options) VALUES ('a', 't', json_object('output_name', printf('%.*c', 1000000, 'x')));
SELECT length(export_run('t', '[]'));
UPDATE export_runs SET status = printf('%.*c', 1000000, 'x');
-- nothing stored but the definition and the one queued run
SELECT count(*) FROM exports;
SELECT number, status FROM export_runs;
