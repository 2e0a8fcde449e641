-- exports: every validation rule with its exact error, and a rejected write stores nothing.
.load $MODULE
SELECT export_config('workers', 0);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL, created_at TEXT);
CREATE VIEW paid AS SELECT id, total FROM orders WHERE status = 'paid';
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
-- source
INSERT INTO exports(name, source) VALUES ('a', 'nosuch');
INSERT INTO exports(name, source) VALUES ('a', 'aux.orders');
INSERT INTO exports(name, source) VALUES ('a', 'temp.orders');
INSERT INTO exports(name, source) VALUES ('a', 'DELETE FROM orders');
INSERT INTO exports(name, source) VALUES ('a', 'SELECT 1; SELECT 2');
INSERT INTO exports(name, source) VALUES ('a', 'SELECT * FROM orders WHERE id = ?');
INSERT INTO exports(name, source) VALUES ('a', 'SELECT nope FROM orders');
INSERT INTO exports(name, source) VALUES ('a', 'SELECT id, id FROM orders');
INSERT INTO exports(name, source) VALUES ('a', NULL);
INSERT INTO exports(name, source) VALUES (NULL, 'orders');
INSERT INTO exports(name, source) VALUES ('a', 'sqlite_schema');
-- columns
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '["id","totl"]');
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '"id"');
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '[]');
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '["id", 3]');
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '["id", "ID"]');
INSERT INTO exports(name, source, columns) VALUES ('a', 'orders', '[1,');
-- format
INSERT INTO exports(name, source, format) VALUES ('a', 'orders', 'xls');
-- options
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"delimeter": ";"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"delimiter": ";;"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"delimiter": "\""}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"header": "yes"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"max_rows": -1}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"file_max_rows": 1.5}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"expires_days": 0}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"line_ending": "\r"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"blob": "raw"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "zip"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"force_quote": ["nope"]}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"force_quote": "yes"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"order_by": ["nope"]}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"order_by": [{"column": "id", "dir": "up"}]}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"date_column": "when"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"output_name": "../x"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"output_name": ".hidden"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"output_name": ""}');
INSERT INTO exports(name, source, options) VALUES ('a/b', 'orders', NULL);
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '[1]');
-- criteria compile against the source
INSERT INTO exports(name, source, criteria) VALUES ('a', 'orders', '[{"attribute": "totl", "operator": "IS_EQUAL_TO", "value": 1}]');
INSERT INTO exports(name, source, criteria) VALUES ('a', 'orders', '{"date_from_utc": "2026-01-01"}');
-- generated columns
INSERT INTO exports(id, name, source) VALUES ('mine', 'a', 'orders');
INSERT INTO exports(name, source, created_at) VALUES ('a', 'orders', '2020-01-01');
-- nothing was stored by any rejected write, not even the extension's tables
SELECT count(*) FROM exports;
SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_export%' ESCAPE '\';
-- accepted writes
INSERT INTO exports(name, source) VALUES ('orders', 'orders');
INSERT INTO exports(name, source, columns, format, options) VALUES ('paid', 'paid', '["total"]', 'tsv', '{"header": false}');
INSERT INTO exports(name, source, format) VALUES ('kv', 'kv', 'jsonl');
INSERT INTO exports(name, source, criteria, options) VALUES ('recent', 'SELECT id, created_at FROM orders', '{"date_from_utc": "2026-01-01"}', '{"date_column": "created_at"}');
SELECT name, source, columns, criteria, format, length(id), created_at = updated_at FROM exports ORDER BY name;
SELECT options FROM exports WHERE name = 'orders';
SELECT options FROM exports WHERE name = 'paid';
-- duplicates
INSERT INTO exports(name, source) VALUES ('orders', 'orders');
INSERT INTO exports(name, source, options) VALUES ('other', 'orders', '{"output_name": "orders"}');
-- update validates too, and keeps what it does not change
UPDATE exports SET columns = '["nope"]' WHERE name = 'orders';
UPDATE exports SET id = 'x' WHERE name = 'orders';
UPDATE exports SET format = 'jsonl', columns = '["id", "total"]' WHERE name = 'orders';
SELECT name, source, columns, format FROM exports WHERE name = 'orders';
-- lookups by id and name use the index: no full scan
EXPLAIN QUERY PLAN SELECT * FROM exports WHERE name = 'orders';
-- a definition with a queued run cannot be changed or deleted
SELECT length(export_run('orders', '[]'));
UPDATE exports SET format = 'csv' WHERE name = 'orders';
DELETE FROM exports WHERE name = 'orders';
UPDATE export_runs SET status = 'ABORTED';
SELECT status FROM export_runs;
DELETE FROM exports WHERE name = 'orders';
SELECT count(*) FROM export_runs;
SELECT name FROM exports ORDER BY name;
-- compression and compression_level: the codecs, their ranges and defaults
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "zstd", "compression_level": 42}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "zstd", "compression_level": 0}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "gzip", "compression_level": 10}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "gzip", "compression_level": 6.5}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "gzip", "compression_level": "best"}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression_level": 3}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "none", "compression_level": 3}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"compression": "ZSTD"}');
SELECT count(*) FROM exports WHERE name = 'a';
INSERT INTO exports(name, source, options) VALUES ('gz1', 'orders', '{"compression": "gzip"}');
INSERT INTO exports(name, source, options) VALUES ('gz9', 'orders', '{"compression": "gzip", "compression_level": 9}');
INSERT INTO exports(name, source, options) VALUES ('zs1', 'orders', '{"compression": "zstd"}');
INSERT INTO exports(name, source, options) VALUES ('zs19', 'orders', '{"compression": "zstd", "compression_level": 19}');
INSERT INTO exports(name, source, options) VALUES ('nolevel', 'orders', '{"compression": "none", "compression_level": null}');
SELECT name, json_extract(options, '$.compression'), json_extract(options, '$.compression_level'),
       json_type(options, '$.compression_level')
  FROM exports WHERE name IN ('gz1', 'gz9', 'zs1', 'zs19', 'nolevel') ORDER BY name;
