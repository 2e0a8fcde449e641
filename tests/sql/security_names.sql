-- Output names (issue 8, test 8): file names come only from output_name (or the definition's
-- name), so every name that could leave the output folder, hide a file or break a file name is
-- refused with its exact error, whichever way it arrives; nothing is stored, nothing is written.
-- (Symlinks planted in and as the output folder: tests/security/test_paths.cpp.)
-- shell: mkdir -p etc sub
.load $MODULE
.timeout 10000
PRAGMA journal_mode = WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t VALUES (1, 'a'), (2, 'b');
-- as option output_name
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "../x"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "/etc/x"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a/b"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "."}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": ".."}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": ""}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', json_object('output_name', printf('%.*c', 300, 'n')));
INSERT INTO exports(name, source, options) VALUES ('a', 't', json_object('output_name', printf('%.*c', 151, 'n')));
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a\u0000b"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a\nb"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a\rb"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": ".hidden"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a\\b"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "a b"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "~root"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "*"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "caf\u00e9"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": "\u2215etc"}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": 7}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": ["x"]}');
INSERT INTO exports(name, source, options) VALUES ('a', 't', '{"output_name": null}');
-- as the definition's name, when no output_name is given
INSERT INTO exports(name, source) VALUES ('../x', 't');
INSERT INTO exports(name, source) VALUES ('/etc/x', 't');
INSERT INTO exports(name, source) VALUES ('a/b', 't');
INSERT INTO exports(name, source) VALUES ('.', 't');
INSERT INTO exports(name, source) VALUES ('..', 't');
INSERT INTO exports(name, source) VALUES ('', 't');
INSERT INTO exports(name, source) VALUES (printf('%.*c', 300, 'n'), 't');
INSERT INTO exports(name, source) VALUES ('a' || char(0) || 'b', 't');
INSERT INTO exports(name, source) VALUES ('a' || char(10) || 'b', 't');
-- nothing was stored, not even the extension's tables
SELECT count(*) FROM exports;
SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_export%' ESCAPE '\';
-- the longest name accepted (150) and a name with every allowed kind of character
INSERT INTO exports(name, source, options) VALUES ('long', 't', json_object('output_name', printf('%.*c', 150, 'n')));
INSERT INTO exports(name, source, options) VALUES ('ok', 't', '{"output_name": "Ok.name_1-2"}');
-- an UPDATE is checked the same way, and renaming keeps the stored output_name
UPDATE exports SET options = '{"output_name": "../x"}' WHERE name = 'ok';
UPDATE exports SET options = json_object('output_name', 'a' || char(10) || 'b') WHERE name = 'ok';
UPDATE exports SET name = '../x' WHERE name = 'ok';
SELECT name, json_extract(options, '$.output_name') FROM exports WHERE name = '../x';
SELECT export_wait(export_run('../x', '[]'));
SELECT name FROM fsdir('test.db-exports') ORDER BY name;
-- the stored options tampered with behind the extension's back: every run is refused
UPDATE _export_definitions SET options = json_set(options, '$.output_name', '../../escaped') WHERE name = '../x';
SELECT export_run('../x', '[]');
SELECT export_sql('../x', '[]');
UPDATE _export_definitions SET options = json_set(options, '$.output_name', '/etc/x') WHERE name = '../x';
SELECT export_run('../x', '[]');
UPDATE _export_definitions SET options = json_set(options, '$.output_name', 'a' || char(0) || 'b') WHERE name = '../x';
SELECT export_run('../x', '[]');
UPDATE _export_definitions SET options = json_set(options, '$.output_name', '..') WHERE name = '../x';
SELECT export_run('../x', '[]');
-- a run queued behind the extension's back for that definition fails in the worker
INSERT INTO _export_runs(id, export_id, number, status, criteria, created_at) SELECT 'planted', id, 99, 'CREATED', '[]', '2026-01-01T00:00:00.000Z' FROM _export_definitions WHERE name = '../x';
SELECT export_wait('planted', 20000);
SELECT status, failure_reason FROM export_runs WHERE id = 'planted';
-- nothing was written anywhere but the one run's file in the output folder
SELECT name FROM fsdir('.') WHERE name NOT LIKE './test.%' AND name NOT IN ('.', './actual.txt') ORDER BY name;
