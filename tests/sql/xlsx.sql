-- format xlsx: the options it refuses (exact texts), those it accepts, the options it shows,
-- round trips of the shown options, and a run's files.
.load $MODULE
PRAGMA journal_mode = WAL;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL);
INSERT INTO orders VALUES (1, 'ada', 'paid', 9.5), (2, 'bob', 'open', 3.0), (3, 'cy', 'paid', NULL);
-- refused: every option that does not apply, with a value other than its default
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"delimiter": ";"}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"null": "NULL"}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"force_quote": true}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"force_quote": ["id"]}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"line_ending": "\r\n"}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"bom": true}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"formula_escape": true}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"compression": "gzip"}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"compression": "zstd", "compression_level": 3}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"compression_level": 10}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"file_max_bytes": 1000000}');
-- wrong values of the options it keeps are refused as for any format
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"blob": "raw"}');
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx', '{"delimeter": ","}');
SELECT count(*) FROM exports;
-- accepted: the others; the refused ones at their csv/tsv defaults (as a csv definition shows
-- them) are dropped; the shown options leave them out
INSERT INTO exports(name, source, format, options) VALUES ('x', 'orders', 'xlsx',
  '{"header": false, "blob": "base64", "file_max_rows": 2, "delimiter": "\t", "null": "", "bom": false, "compression": "none", "compression_level": null, "file_max_bytes": 0, "force_quote": false, "line_ending": "\n", "formula_escape": false}');
SELECT format, options FROM exports WHERE name = 'x';
-- writing back the shown options changes nothing
UPDATE exports SET options = options WHERE name = 'x';
SELECT options FROM exports WHERE name = 'x';
-- a csv definition switched to xlsx keeps its options (defaults are dropped) ...
INSERT INTO exports(name, source) VALUES ('c', 'orders');
UPDATE exports SET format = 'xlsx' WHERE name = 'c';
SELECT format, options FROM exports WHERE name = 'c';
-- ... and back to csv gets the csv defaults again
UPDATE exports SET format = 'csv' WHERE name = 'c';
SELECT format, json_extract(options, '$.delimiter'), json_extract(options, '$.compression') FROM exports WHERE name = 'c';
-- but not with an option xlsx refuses
INSERT INTO exports(name, source, options) VALUES ('g', 'orders', '{"compression": "gzip"}');
UPDATE exports SET format = 'xlsx' WHERE name = 'g';
SELECT format FROM exports WHERE name = 'g';
-- compression_level is the workbook's zip level (1 to 9); shown when not the default, 1
INSERT INTO exports(name, source, format, options) VALUES ('z', 'orders', 'xlsx', '{"compression_level": 9}');
SELECT json_extract(options, '$.compression_level') FROM exports WHERE name = 'z';
UPDATE exports SET options = '{"compression_level": 1}' WHERE name = 'z';
SELECT json_extract(options, '$.compression_level') IS NULL FROM exports WHERE name = 'z';
DELETE FROM exports WHERE name = 'z';
-- a run: one file per file_max_rows rows, recorded with format xlsx
SELECT export_wait(export_run('x', '[]'), 60000);
SELECT part, substr(path, instr(path, '-exports/') + 9), format, compression, row_count, size_bytes > 1000, length(sha256)
  FROM export_files ORDER BY part;
SELECT hex(substr(export_download(id), 1, 4)) FROM export_files WHERE part = 1;
SELECT status, rows_written, file_count FROM export_runs;
