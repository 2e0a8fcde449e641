-- Hostile schema (issue 8, test 7): a database whose triggers, views, DEFAULT expressions,
-- generated columns and indexes call the functions that start, stop, read or configure
-- exports, or write the extension's virtual tables. Opened by a victim with the extension
-- loaded, with PRAGMA trusted_schema ON and OFF: every such use is refused, nothing is stored,
-- no setting changes, no file is written.
--
-- SQLite 3.40 does not enforce SQLITE_DIRECTONLY in CHECK constraints: the extension refuses
-- a call that no running statement names in its text (c_run below).
.load $MODULE
.timeout 10000
PRAGMA journal_mode = WAL;
CREATE TABLE orders(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO orders VALUES (1, 'a'), (2, 'b');
INSERT INTO exports(name, source) VALUES ('orders', 'orders');
SELECT export_wait(export_run('orders', '[]'));
-- The attacker's objects. Creating them is allowed (SQLite resolves them when used), except
-- where SQLite itself refuses non-deterministic functions.
CREATE TABLE t_run(x);
CREATE TRIGGER h_run AFTER INSERT ON t_run BEGIN SELECT export_run('orders', '[]'); END;
CREATE TABLE t_abort(x);
CREATE TRIGGER h_abort AFTER INSERT ON t_abort BEGIN SELECT export_abort((SELECT id FROM _export_runs LIMIT 1)); END;
CREATE TABLE t_download(x);
CREATE TRIGGER h_download AFTER INSERT ON t_download BEGIN SELECT export_download((SELECT id FROM _export_files LIMIT 1)); END;
CREATE TABLE t_config(x);
CREATE TRIGGER h_config AFTER INSERT ON t_config BEGIN SELECT export_config('output_dir', 'hostile'); END;
CREATE TABLE t_config_read(x);
CREATE TRIGGER h_config_read AFTER INSERT ON t_config_read BEGIN SELECT export_config('workers'); END;
CREATE TABLE t_workers(x);
CREATE TRIGGER h_workers AFTER INSERT ON t_workers BEGIN SELECT export_config('workers', 64); END;
CREATE TABLE t_purge(x);
CREATE TRIGGER h_purge AFTER INSERT ON t_purge BEGIN SELECT export_purge(); END;
CREATE TABLE t_wait(x);
CREATE TRIGGER h_wait AFTER INSERT ON t_wait BEGIN SELECT export_wait((SELECT id FROM _export_runs LIMIT 1)); END;
CREATE TABLE t_ins_exports(x);
CREATE TRIGGER h_ins_exports AFTER INSERT ON t_ins_exports BEGIN INSERT INTO exports(name, source) VALUES ('evil', 'orders'); END;
CREATE TABLE t_upd_exports(x);
CREATE TRIGGER h_upd_exports AFTER INSERT ON t_upd_exports BEGIN UPDATE exports SET format = 'jsonl'; END;
CREATE TABLE t_del_exports(x);
CREATE TRIGGER h_del_exports AFTER INSERT ON t_del_exports BEGIN DELETE FROM exports; END;
CREATE TABLE t_ins_runs(x);
CREATE TRIGGER h_ins_runs AFTER INSERT ON t_ins_runs BEGIN INSERT INTO export_runs(id) VALUES ('x'); END;
CREATE TABLE t_upd_runs(x);
CREATE TRIGGER h_upd_runs AFTER INSERT ON t_upd_runs BEGIN UPDATE export_runs SET status = 'ABORTED'; END;
CREATE TABLE t_del_runs(x);
CREATE TRIGGER h_del_runs AFTER INSERT ON t_del_runs BEGIN DELETE FROM export_runs; END;
CREATE TABLE t_upd_files(x);
CREATE TRIGGER h_upd_files AFTER INSERT ON t_upd_files BEGIN UPDATE export_files SET path = '/etc/passwd'; END;
CREATE TABLE t_del_files(x);
CREATE TRIGGER h_del_files AFTER INSERT ON t_del_files BEGIN DELETE FROM export_files; END;
CREATE TRIGGER h_update AFTER UPDATE ON orders BEGIN SELECT export_run('orders', '[]'); END;
CREATE TRIGGER h_delete BEFORE DELETE ON orders BEGIN DELETE FROM export_runs; END;
CREATE VIEW v_run AS SELECT export_run('orders', '[]') AS r;
CREATE VIEW v_abort AS SELECT export_abort(id) AS r FROM _export_runs;
CREATE VIEW v_download AS SELECT export_download(id) AS r FROM _export_files;
CREATE VIEW v_config AS SELECT export_config('output_dir', 'hostile') AS r;
CREATE VIEW v_purge AS SELECT export_purge() AS r;
CREATE VIEW v_wait AS SELECT export_wait(id, 10) AS r FROM _export_runs;
CREATE VIEW v_exports AS SELECT * FROM exports;
CREATE VIEW v_runs AS SELECT * FROM export_runs;
CREATE VIEW v_files AS SELECT * FROM export_files;
CREATE VIEW v_sql AS SELECT export_sql('orders') AS r;
CREATE VIEW v_write AS SELECT 1 AS x;
CREATE TRIGGER h_instead INSTEAD OF INSERT ON v_write BEGIN INSERT INTO exports(name, source) VALUES ('evil2', 'orders'); END;
CREATE TABLE d_run(x, y DEFAULT (export_run('orders', '[]')));
CREATE TABLE d_config(x, y DEFAULT (export_config('output_dir', 'hostile')));
CREATE TABLE g_run(x, y AS (export_run('orders', '[]')));
CREATE INDEX i_run ON orders(export_run(v, '[]'));
CREATE INDEX p_purge ON orders(v) WHERE export_purge() > 0;
CREATE TABLE c_run(x CHECK (export_run('orders', '[]') IS NOT NULL));
CREATE TABLE c_lit(x CHECK (export_run('orders', '[]') IS NOT NULL));
-- The victim opens the database (its schema is now read from the file) and loads the extension.
.open test.db
.load $MODULE
.timeout 10000
-- 1. trusted_schema = ON: functions flagged SQLITE_DIRECTONLY are refused all the same
PRAGMA trusted_schema = ON;
INSERT INTO t_run VALUES (1);
INSERT INTO t_abort VALUES (1);
INSERT INTO t_download VALUES (1);
INSERT INTO t_config VALUES (1);
INSERT INTO t_config_read VALUES (1);
INSERT INTO t_workers VALUES (1);
INSERT INTO t_purge VALUES (1);
INSERT INTO t_wait VALUES (1);
INSERT INTO t_ins_exports VALUES (1);
INSERT INTO t_upd_exports VALUES (1);
INSERT INTO t_del_exports VALUES (1);
INSERT INTO t_ins_runs VALUES (1);
INSERT INTO t_upd_runs VALUES (1);
INSERT INTO t_del_runs VALUES (1);
INSERT INTO t_upd_files VALUES (1);
INSERT INTO t_del_files VALUES (1);
UPDATE orders SET v = 'c' WHERE id = 1;
DELETE FROM orders WHERE id = 2;
SELECT * FROM v_run;
SELECT * FROM v_abort;
SELECT * FROM v_download;
SELECT * FROM v_config;
SELECT * FROM v_purge;
SELECT * FROM v_wait;
SELECT count(*) FROM v_exports;
SELECT count(*) FROM v_runs;
INSERT INTO v_write VALUES (1);
INSERT INTO d_run(x) VALUES (1);
INSERT INTO d_config(x) VALUES (1);
INSERT INTO c_run VALUES (1);
-- the name in a string literal or a comment of the victim's statement does not count
INSERT INTO c_lit VALUES ('export_run'); -- export_run
INSERT INTO c_lit /* export_run */ VALUES ('it''s export_run');
INSERT INTO exports(name, source) VALUES ('via_view', 'v_run');
INSERT INTO exports(name, source) VALUES ('via_view', 'v_config');
-- read-only and harmless, so allowed in a trusted schema: export_files and export_sql
SELECT count(*) FROM v_files;
SELECT * FROM v_sql;
-- 2. trusted_schema = OFF: the same, and the harmless ones are refused too
PRAGMA trusted_schema = OFF;
INSERT INTO t_run VALUES (1);
INSERT INTO t_abort VALUES (1);
INSERT INTO t_download VALUES (1);
INSERT INTO t_config VALUES (1);
INSERT INTO t_config_read VALUES (1);
INSERT INTO t_workers VALUES (1);
INSERT INTO t_purge VALUES (1);
INSERT INTO t_wait VALUES (1);
INSERT INTO t_ins_exports VALUES (1);
INSERT INTO t_upd_exports VALUES (1);
INSERT INTO t_del_exports VALUES (1);
INSERT INTO t_ins_runs VALUES (1);
INSERT INTO t_upd_runs VALUES (1);
INSERT INTO t_del_runs VALUES (1);
INSERT INTO t_upd_files VALUES (1);
INSERT INTO t_del_files VALUES (1);
UPDATE orders SET v = 'c' WHERE id = 1;
DELETE FROM orders WHERE id = 2;
SELECT * FROM v_run;
SELECT * FROM v_abort;
SELECT * FROM v_download;
SELECT * FROM v_config;
SELECT * FROM v_purge;
SELECT * FROM v_wait;
SELECT count(*) FROM v_exports;
SELECT count(*) FROM v_runs;
INSERT INTO v_write VALUES (1);
INSERT INTO d_run(x) VALUES (1);
INSERT INTO d_config(x) VALUES (1);
INSERT INTO c_run VALUES (1);
INSERT INTO exports(name, source) VALUES ('via_view', 'v_run');
SELECT count(*) FROM v_files;
SELECT * FROM v_sql;
-- Nothing changed: no row in the attacker's tables, no definition, no run, no download, the
-- settings as they were.
PRAGMA trusted_schema = ON;
SELECT (SELECT count(*) FROM t_run) + (SELECT count(*) FROM t_abort) + (SELECT count(*) FROM t_download) + (SELECT count(*) FROM t_config) + (SELECT count(*) FROM t_config_read) + (SELECT count(*) FROM t_workers) + (SELECT count(*) FROM t_purge) + (SELECT count(*) FROM t_wait);
SELECT (SELECT count(*) FROM t_ins_exports) + (SELECT count(*) FROM t_upd_exports) + (SELECT count(*) FROM t_del_exports) + (SELECT count(*) FROM t_ins_runs) + (SELECT count(*) FROM t_upd_runs) + (SELECT count(*) FROM t_del_runs) + (SELECT count(*) FROM t_upd_files) + (SELECT count(*) FROM t_del_files);
SELECT count(*) FROM d_run;
SELECT count(*) FROM d_config;
SELECT count(*) FROM c_run;
SELECT count(*) FROM c_lit;
SELECT id, v FROM orders;
SELECT name, format FROM exports;
SELECT number, status FROM export_runs;
SELECT part, downloaded_at, path LIKE '%/test.db-exports/orders-1.csv' FROM export_files;
SELECT export_config('output_dir') LIKE '%/test.db-exports', export_config('workers');
-- No file was written but the one run's: nothing in the folder the attacker named, nothing new
-- in the output folder.
SELECT name FROM fsdir('.') WHERE name NOT LIKE './test.db%' AND name NOT IN ('.', './test.sql', './actual.txt') ORDER BY name;
SELECT name FROM fsdir('test.db-exports') ORDER BY name;
-- The attacker's direct calls from the victim's own statements still work as ever: the
-- refusals above come from where the calls are, not from what they do.
SELECT export_abort((SELECT id FROM export_runs));
-- A definition whose source statement calls the extension's functions is refused (export_count
-- would run them on the caller's connection), directly or through a view.
INSERT INTO exports(name, source) VALUES ('evil', 'SELECT export_config(''output_dir'', ''hostile'') AS x');
INSERT INTO exports(name, source) VALUES ('evil', 'select 1 as a, EXPORT_RUN(''orders'', ''[]'') as b');
INSERT INTO exports(name, source) VALUES ('evil', 'SELECT x FROM (SELECT export_purge() AS x)');
INSERT INTO exports(name, source) VALUES ('evil', 'SELECT count(*) AS n FROM export_runs');
SELECT name, source FROM exports WHERE name = 'evil';
SELECT export_count('evil');
