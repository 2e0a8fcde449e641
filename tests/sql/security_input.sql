-- Bad input everywhere (issue 8, test 9): every function and every virtual-table write called
-- with wrong types (integers, reals, blobs), NULLs, wrong argument counts, huge values (1 MB
-- strings and blobs), malformed JSON, JSON nested 10,000 levels deep, too many conditions or
-- values, and unknown ids. Each gives a clear error of SPEC section 8 ("<function>: <code>:
-- <message>"), nothing crashes, and nothing is stored (checked at the end). Inputs whose
-- error repeats a 1 MB value run in a second process whose output is cut to its first
-- characters: tests/security/huge_input.sql.
-- shell: sqlite3 -batch -cmd ".load $EXPORT_MODULE_STEM" huge.db < "$EXPORT_SOURCE_DIR/tests/security/huge_input.sql" 2>&1 | awk '{ print length($0) ": " substr($0, 1, 100) }' > huge.out
.load $MODULE
.timeout 10000
PRAGMA journal_mode = WAL;
SELECT export_config('workers', 0);
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t VALUES (1, 'a'), (2, 'b');
INSERT INTO exports(name, source) VALUES ('t', 't');
INSERT INTO exports(name, source, criteria) VALUES ('fixed', 't', '[]');
-- wrong argument counts (SQLite's own check)
SELECT export_version(1);
SELECT export_run();
SELECT export_run('t', '[]', 3);
SELECT export_wait();
SELECT export_wait('x', 1, 2);
SELECT export_abort();
SELECT export_abort('x', 'y');
SELECT export_sql();
SELECT export_count('t', '[]', 1);
SELECT export_purge(1);
SELECT export_config();
SELECT export_config('workers', 1, 2);
SELECT export_download();
SELECT export_download('x', 'y');
-- export_run: the export argument
SELECT export_run(NULL, '[]');
SELECT export_run(1, '[]');
SELECT export_run(1.5, '[]');
SELECT export_run(x'74', '[]');
SELECT export_run(zeroblob(1000000), '[]');
SELECT export_run('nosuch', '[]');
SELECT export_run('', '[]');
SELECT export_run('t' || char(0) || 'x', '[]');
SELECT export_run(CAST(x'ff' AS TEXT), '[]');
-- export_run: the criteria argument
SELECT export_run('t', 1);
SELECT export_run('t', 1.5);
SELECT export_run('t', x'5b5d');
SELECT export_run('t', zeroblob(1000000));
SELECT export_run('t', '');
SELECT export_run('t', '[');
SELECT export_run('t', '{"a":}');
SELECT export_run('t', '[1,]');
SELECT export_run('t', '[] []');
SELECT export_run('t', 'nul');
SELECT export_run('t', printf('%.*c', 1000000, 'x'));
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO", "value": "' || CAST(x'ff' AS TEXT) || '"}]');
SELECT export_run('t', 'true');
SELECT export_run('t', '42');
SELECT export_run('t', '"[]"');
SELECT export_run('t', '[42]');
SELECT export_run('t', '[null]');
SELECT export_run('t', '[{}]');
SELECT export_run('t', '[{"attribute": 1, "operator": "IS_EMPTY"}]');
SELECT export_run('t', '[{"attribute": "v", "operator": 1}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO"}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO", "value": {"a": 1}}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO", "value": [1]}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EMPTY", "value": 1}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_BETWEEN", "value": 1}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_BETWEEN", "value": [1, 2, 3]}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_BETWEEN", "value": [3, 1]}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_IN", "value": []}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_IN", "value": [[1]]}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "CONTAINS", "value": 1e999}]');
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO", "value": 1, "extra": 2}]');
SELECT export_run('t', '{"logical": "XOR", "items": []}');
SELECT export_run('t', '{"logical": "AND", "items": 1}');
SELECT export_run('t', '{"logical": "AND"}');
SELECT export_run('t', '[[{"attribute": "v", "operator": "IS_EMPTY"}], "NAND", []]');
SELECT export_run('t', '["OR"]');
SELECT export_run('t', '{"date_from_utc": 1}');
SELECT export_run('t', '{"date_from_utc": "yesterday"}');
-- JSON nested 10,000 levels: refused before any recursion can exhaust the stack
SELECT export_run('t', replace(printf('%.*c', 10000, 'x'), 'x', '['));
SELECT export_run('t', replace(printf('%.*c', 10000, 'x'), 'x', '[') || replace(printf('%.*c', 10000, 'x'), 'x', ']'));
SELECT export_run('t', replace(printf('%.*c', 10000, 'x'), 'x', '{"a":') || '1' || replace(printf('%.*c', 10000, 'x'), 'x', '}'));
SELECT export_run('t', replace(printf('%.*c', 10000, 'x'), 'x', '{"logical": "AND", "items": [') || replace(printf('%.*c', 10000, 'x'), 'x', ']}'));
SELECT export_run('t', '[{"attribute": "v", "operator": "IS_IN", "value": ' || replace(printf('%.*c', 10000, 'x'), 'x', '[') || replace(printf('%.*c', 10000, 'x'), 'x', ']') || '}]');
-- too many conditions, too many values to bind
SELECT export_run('t', (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40000) SELECT json_array(json_object('attribute', 'id', 'operator', 'IS_IN', 'value', json_group_array(i))) FROM c));
SELECT export_run('t', (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000) SELECT json_group_array(json_object('attribute', 'id', 'operator', 'IS_EQUAL_TO', 'value', i)) FROM c));
-- the run rules
SELECT export_run('fixed', '[]');
SELECT export_run('t');
SELECT export_run('t', NULL);
-- export_sql and export_count take the same arguments
SELECT export_sql(NULL);
SELECT export_sql(1.5, '[]');
SELECT export_sql(x'74');
SELECT export_sql('nosuch');
SELECT export_sql('t', zeroblob(10));
SELECT export_sql('t', replace(printf('%.*c', 10000, 'x'), 'x', '['));
SELECT export_count(NULL);
SELECT export_count(7);
SELECT export_count(x'74', '[]');
SELECT export_count('nosuch');
SELECT export_count('t', '{');
SELECT export_count('t', '[{"attribute": "v", "operator": "IS_GREATER_THAN", "value": true}]');
-- export_wait
SELECT export_wait(NULL);
SELECT export_wait(1);
SELECT export_wait(1.5);
SELECT export_wait(x'00');
SELECT export_wait(zeroblob(1000000));
SELECT export_wait('nosuch');
SELECT export_wait('nosuch', 'x');
SELECT export_wait('nosuch', -1);
SELECT export_wait('nosuch', 1.5);
SELECT export_wait('nosuch', NULL);
SELECT export_wait('nosuch', x'01');
SELECT export_wait('nosuch', 9223372036854775807);
SELECT export_wait('nosuch', -9223372036854775808);
-- export_abort
SELECT export_abort(NULL);
SELECT export_abort(1);
SELECT export_abort(1.5);
SELECT export_abort(x'00');
SELECT export_abort('nosuch');
SELECT export_abort('');
-- export_download
SELECT export_download(NULL);
SELECT export_download(1);
SELECT export_download(-1.5);
SELECT export_download(x'00');
SELECT export_download(zeroblob(1000000));
SELECT export_download('nosuch');
SELECT export_download('');
-- export_config
SELECT export_config(NULL);
SELECT export_config(1);
SELECT export_config(x'6f75747075745f646972');
SELECT export_config('nosuch');
SELECT export_config('WORKERS');
SELECT export_config('workers', NULL);
SELECT export_config('workers', '1');
SELECT export_config('workers', 1.0);
SELECT export_config('workers', x'01');
SELECT export_config('workers', 65);
SELECT export_config('workers', -1);
SELECT export_config('workers', 9223372036854775807);
SELECT export_config('workers', -9223372036854775808);
SELECT export_config('lease_ms', 'x');
SELECT export_config('lease_ms', 99);
SELECT export_config('lease_ms', 86400001);
SELECT export_config('lease_ms', 1e3);
SELECT export_config('output_dir', NULL);
SELECT export_config('output_dir', 1);
SELECT export_config('output_dir', 1.5);
SELECT export_config('output_dir', x'2f746d70');
SELECT export_config('output_dir', zeroblob(1000000));
SELECT export_config('output_dir', '');
SELECT export_config('output_dir', 'a' || char(0) || 'b');
-- exports: INSERT with wrong types in every column
INSERT INTO exports(name, source) VALUES (NULL, 't');
INSERT INTO exports(name, source) VALUES (1, 't');
INSERT INTO exports(name, source) VALUES (1.5, 't');
INSERT INTO exports(name, source) VALUES (x'61', 't');
INSERT INTO exports(name, source) VALUES (zeroblob(1000000), 't');
INSERT INTO exports(name, source) VALUES ('a', NULL);
INSERT INTO exports(name, source) VALUES ('a', 1);
INSERT INTO exports(name, source) VALUES ('a', 1.5);
INSERT INTO exports(name, source) VALUES ('a', x'74');
INSERT INTO exports(name, source) VALUES ('a', '');
INSERT INTO exports(name, source) VALUES ('a', 'SELECT ' || printf('%.*c', 1000000, '('));
INSERT INTO exports(name, source) VALUES ('a', 'SELECT 1 AS x FROM t WHERE ' || replace(printf('%.*c', 5000, 'x'), 'x', '(') || '1' || replace(printf('%.*c', 5000, 'x'), 'x', ')'));
INSERT INTO exports(name, source, columns) VALUES ('a', 't', 1);
INSERT INTO exports(name, source, columns) VALUES ('a', 't', x'5b5d');
INSERT INTO exports(name, source, columns) VALUES ('a', 't', '[');
INSERT INTO exports(name, source, columns) VALUES ('a', 't', '{"id": 1}');
INSERT INTO exports(name, source, columns) VALUES ('a', 't', '[null]');
INSERT INTO exports(name, source, columns) VALUES ('a', 't', replace(printf('%.*c', 10000, 'x'), 'x', '['));
INSERT INTO exports(name, source, columns) VALUES ('a', 't', (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000) SELECT json_group_array('id') FROM c));
INSERT INTO exports(name, source, criteria) VALUES ('a', 't', 1);
INSERT INTO exports(name, source, criteria) VALUES ('a', 't', x'5b5d');
INSERT INTO exports(name, source, criteria) VALUES ('a', 't', '[');
INSERT INTO exports(name, source, criteria) VALUES ('a', 't', replace(printf('%.*c', 10000, 'x'), 'x', '[') || replace(printf('%.*c', 10000, 'x'), 'x', ']'));
INSERT INTO exports(name, source, criteria) VALUES ('a', 't', '[{"attribute": "nope", "operator": "IS_EMPTY"}]');
INSERT INTO exports(name, source, format) VALUES ('a', 't', 1);
INSERT INTO exports(name, source, format) VALUES ('a', 't', x'637376');
INSERT INTO exports(name, source, format) VALUES ('a', 't', 'CSV');
INSERT INTO exports(name, source, format) VALUES ('a', 't', 'csv' || char(0));
INSERT INTO exports(name, source, options) VALUES ('a', 't', 1);
INSERT INTO exports(name, source, options) VALUES ('a', 't', x'7b7d');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '[]');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '"x"');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"header": 1}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"max_rows": 1e999}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"max_rows": 99999999999999999999}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"file_max_bytes": -1}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"expires_days": 36501}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"order_by": ' || replace(printf('%.*c', 10000, 'x'), 'x', '[') || replace(printf('%.*c', 10000, 'x'), 'x', ']') || '}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"order_by": [{"column": {"column": "id"}}]}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"header": true, "header": false, "bogus": 1}');
INSERT INTO exports(id, name, source) VALUES (1, 'a', 't');
INSERT INTO exports(created_at, name, source) VALUES (x'00', 'a', 't');
INSERT INTO exports(updated_at, name, source) VALUES (1.5, 'a', 't');
INSERT INTO exports(rowid, name, source) VALUES (5, 'a', 't');
INSERT INTO exports(name, source) VALUES (CAST(x'ff' AS TEXT), 't');
INSERT INTO exports(name, source) VALUES ('a' || char(0) || 'b', 't');
-- exports: UPDATE and DELETE with wrong types
UPDATE exports SET name = NULL WHERE name = 't';
UPDATE exports SET name = 2 WHERE name = 't';
UPDATE exports SET name = x'74' WHERE name = 't';
UPDATE exports SET source = 1.5 WHERE name = 't';
UPDATE exports SET columns = zeroblob(10) WHERE name = 't';
UPDATE exports SET criteria = '{' WHERE name = 't';
UPDATE exports SET format = NULL, options = 1 WHERE name = 't';
UPDATE exports SET options = replace(printf('%.*c', 10000, 'x'), 'x', '{"a":') WHERE name = 't';
UPDATE exports SET id = 1 WHERE name = 't';
UPDATE exports SET id = NULL WHERE name = 't';
UPDATE exports SET created_at = zeroblob(4) WHERE name = 't';
UPDATE exports SET rowid = 99 WHERE name = 't';
DELETE FROM exports WHERE name = 1;
DELETE FROM exports WHERE id = x'74';
DELETE FROM exports WHERE name = zeroblob(1000000);
-- export_runs: INSERT, UPDATE, DELETE with wrong types (one queued run to aim at; its criteria
-- hold a number beyond 64-bit integers, which is a valid JSON number)
SELECT length(export_run('t', '[{"attribute": "v", "operator": "IS_EQUAL_TO", "value": 99999999999999999999999}]'));
INSERT INTO export_runs(id) VALUES (NULL);
INSERT INTO export_runs(id, status) VALUES (1, 2.5);
UPDATE export_runs SET status = NULL;
UPDATE export_runs SET status = 1;
UPDATE export_runs SET status = 1.5;
UPDATE export_runs SET status = 'aborted';
UPDATE export_runs SET status = 'ABORTED ';
UPDATE export_runs SET status = zeroblob(1000000);
UPDATE export_runs SET progress = 'x';
UPDATE export_runs SET id = NULL;
UPDATE export_runs SET number = number + 1;
UPDATE export_runs SET criteria = replace(printf('%.*c', 10000, 'x'), 'x', '[');
DELETE FROM export_runs WHERE id = 1;
DELETE FROM export_runs WHERE id = zeroblob(1000000);
SELECT count(*) FROM export_runs WHERE status = x'43524541544544';
SELECT count(*) FROM export_runs WHERE id = 1.5;
SELECT count(*) FROM export_files WHERE run_id = zeroblob(100);
SELECT number, status, criteria, params FROM export_runs;
-- accepted leniently: the text of a blob, the text up to a NUL (both read 'ABORTED'), and a
-- rowid change that changes nothing
UPDATE export_runs SET rowid = 7;
UPDATE export_runs SET status = 'ABORTED' || char(0) || 'x';
UPDATE export_runs SET status = x'41424f52544544';
SELECT number, status FROM export_runs;
-- export_files is read-only whatever is written (one finished run to have a file row)
SELECT export_config('workers', 1);
SELECT export_wait(export_run('t', '[]'));
INSERT INTO export_files(id) VALUES (NULL);
INSERT INTO export_files(id, part) VALUES (x'00', 'x');
UPDATE export_files SET part = 'x';
UPDATE export_files SET path = NULL;
UPDATE export_files SET path = zeroblob(1000000);
DELETE FROM export_files;
-- Nothing was stored by any refused call: the two definitions as they were, the two runs
-- (aborted and complete), one file, the settings as they were.
SELECT name, source, columns, criteria, format, length(options) FROM exports ORDER BY name;
SELECT export_name, number, status, failure_reason FROM export_runs ORDER BY number;
SELECT part, row_count, downloaded_at, path LIKE '%/test.db-exports/t-2.csv' FROM export_files;
SELECT export_config('workers'), export_config('lease_ms'), export_config('output_dir') LIKE '%/test.db-exports';
SELECT name FROM fsdir('test.db-exports') ORDER BY name;
-- The second process with the inputs whose errors repeat 1 MB (length: first characters).
SELECT CAST(readfile('huge.out') AS TEXT);
