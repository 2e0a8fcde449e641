-- Pivot exports: every shape's file, in CSV and in JSONL, compared row by row with a
-- hand-written GROUP BY query over the same data (NULL group keys, NULL and text values in
-- summarized columns, NULL and '' pivot values); export_sql, export_count, export_runs.sql;
-- the run-time refusals (too many values, duplicate names, BLOB values, max_rows).
.load $MODULE
.timeout 5000
PRAGMA journal_mode = WAL;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL, region TEXT, day TEXT, note TEXT);
INSERT INTO orders VALUES
  (1, 'ann', 'paid', 10.5, 'north', '2026-04-01', 'x'),
  (2, 'ann', 'open', 20, 'north', '2026-04-02', '7'),
  (3, 'bob', 'paid', NULL, 'south', '2026-04-03', 'abc'),
  (4, 'bob', 'paid', 4.25, 'south', '2026-04-10', '2.5'),
  (5, NULL, 'paid', 7, 'north', '2026-04-11', NULL),
  (6, NULL, NULL, 1.5, NULL, '2026-04-12', '1e2'),
  (7, 'cy', '', 2, 'south', '2026-04-20', ''),
  (8, 'ann', 'paid', 11.5, 'south', '2026-05-01', '3'),
  (9, 'fay', 'void', NULL, 'north', '2026-05-02', NULL),
  (10, 'dee, "the" 2nd', 'open', 3, 'east', '2026-05-03', 'x'),
  (11, 'eve', 'open', 0.1, 'east', '2026-05-04', 'y'),
  (12, 'bob', 'open', 4.25, NULL, '2026-05-05', NULL);

-- The comparison machinery. `hand` holds the hand-written query's rows (untyped columns keep
-- every value's type), `hand_header` the expected output column names. `hand_csv` formats them
-- as the CSV the extension must write (REALs here all have short exact texts, so SQLite's
-- 15-digit text is the shortest text too); `jsonl_ok` compares a JSONL file in `got` with
-- them cell by cell: same keys in the same order, same values, same types.
CREATE TEMP TABLE hand(n INTEGER PRIMARY KEY, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12);
CREATE TEMP TABLE hand_header(names TEXT);
CREATE TEMP TABLE got(t TEXT);
CREATE TEMP VIEW cells(n, i, v) AS
  SELECT n, i, v FROM (
    SELECT n, 1 AS i, c1 AS v FROM hand UNION ALL SELECT n, 2, c2 FROM hand UNION ALL SELECT n, 3, c3 FROM hand
    UNION ALL SELECT n, 4, c4 FROM hand UNION ALL SELECT n, 5, c5 FROM hand UNION ALL SELECT n, 6, c6 FROM hand
    UNION ALL SELECT n, 7, c7 FROM hand UNION ALL SELECT n, 8, c8 FROM hand UNION ALL SELECT n, 9, c9 FROM hand
    UNION ALL SELECT n, 10, c10 FROM hand UNION ALL SELECT n, 11, c11 FROM hand UNION ALL SELECT n, 12, c12 FROM hand)
  WHERE i <= (SELECT json_array_length(names) FROM hand_header)
  UNION ALL SELECT 0, key + 1, value FROM hand_header, json_each(hand_header.names);
CREATE TEMP VIEW hand_csv(t) AS
  SELECT group_concat(line, char(10)) || char(10) FROM (
    SELECT o.n, (SELECT group_concat(f, ',') FROM (
        SELECT CASE WHEN v IS NULL THEN ''
                    WHEN typeof(v) = 'text' AND (v = '' OR v GLOB '*[,"]*' OR v GLOB ' *' OR v GLOB '* ')
                      THEN '"' || replace(v, '"', '""') || '"'
                    ELSE CAST(v AS TEXT) END AS f
        FROM cells c WHERE c.n = o.n ORDER BY c.i)) AS line
    FROM (SELECT DISTINCT n FROM cells) o ORDER BY o.n);
CREATE TEMP VIEW got_lines(n, line) AS
  WITH RECURSIVE s(n, line, rest) AS (
    SELECT 0, NULL, t FROM got
    UNION ALL SELECT n + 1, substr(rest, 1, instr(rest, char(10)) - 1), substr(rest, instr(rest, char(10)) + 1) FROM s WHERE rest <> '')
  SELECT n, line FROM s WHERE n > 0;
CREATE TEMP VIEW got_cells(n, i, k, v) AS
  SELECT l.n, row_number() OVER (PARTITION BY l.n ORDER BY j.id), j.key, j.value FROM got_lines l, json_each(l.line) j;
CREATE TEMP VIEW jsonl_ok(ok) AS SELECT
  (SELECT count(*) FROM got_lines) = (SELECT count(*) FROM hand)
  AND (SELECT count(*) FROM got_cells) = (SELECT count(*) FROM cells WHERE n > 0)
  AND NOT EXISTS (SELECT 1 FROM cells h WHERE h.n > 0 AND NOT EXISTS (
        SELECT 1 FROM got_cells g WHERE g.n = h.n AND g.i = h.i AND g.v IS h.v AND typeof(g.v) = typeof(h.v)
          AND g.k = (SELECT v FROM cells WHERE n = 0 AND i = h.i)));

-- A. Without column: one row per customer (a NULL customer is a group), cnt and sum (fay's
--    totals are all NULL: her sum is NULL). Default sort: the fields.
INSERT INTO exports(name, source, options) VALUES ('a', 'orders',
  '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total", "as": "revenue"}]}}');
INSERT INTO hand_header VALUES ('["customer", "_cnt", "revenue"]');
INSERT INTO hand(c1, c2, c3) SELECT customer, count(*), sum(total) FROM orders GROUP BY customer ORDER BY customer;
SELECT export_wait(export_run('a', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/a-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'A csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
UPDATE exports SET format = 'jsonl' WHERE name = 'a';
SELECT export_wait(export_run('a', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/a-2.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'A jsonl', ok FROM jsonl_ok;
SELECT 'A count', export_count('a') = (SELECT count(*) FROM hand), export_count('a');
SELECT 'A sql', export_sql('a');
SELECT 'A runs', number, status, rows_matched, rows_written, sql, params FROM export_runs WHERE export_name = 'a';

-- B. The issue's example: a column per (status, summary), statuses sorted (NULL, '', open,
--    paid, void), named <value>_<summary>; a customer without some status gets 0 / NULL.
INSERT INTO exports(name, source, options) VALUES ('b', 'orders',
  '{"pivot": {"fields": ["customer"], "column": "status", "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total", "as": "revenue"}], "sort": {"column": "customer", "desc": false}}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["customer", "NULL__cnt", "NULL_revenue", "__cnt", "_revenue", "open__cnt", "open_revenue", "paid__cnt", "paid_revenue", "void__cnt", "void_revenue"]');
INSERT INTO hand(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)
  SELECT customer,
         count(*) FILTER (WHERE status IS NULL), sum(total) FILTER (WHERE status IS NULL),
         count(*) FILTER (WHERE status = ''), sum(total) FILTER (WHERE status = ''),
         count(*) FILTER (WHERE status = 'open'), sum(total) FILTER (WHERE status = 'open'),
         count(*) FILTER (WHERE status = 'paid'), sum(total) FILTER (WHERE status = 'paid'),
         count(*) FILTER (WHERE status = 'void'), sum(total) FILTER (WHERE status = 'void')
  FROM orders GROUP BY customer ORDER BY customer;
-- export_run records the query that reads the values; the worker records what it ran
SELECT export_config('workers', 0);
SELECT length(export_run('b', '[]'));
SELECT 'B queued', status, sql, params FROM export_runs WHERE export_name = 'b';
SELECT export_config('workers', 1);
SELECT export_wait((SELECT id FROM export_runs WHERE export_name = 'b'));
SELECT 'B done', status, rows_matched, sql, params FROM export_runs WHERE export_name = 'b';
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/b-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'B csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
UPDATE exports SET format = 'jsonl' WHERE name = 'b';
SELECT export_wait(export_run('b', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/b-2.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'B jsonl', ok FROM jsonl_ok;
SELECT 'B count', export_count('b') = (SELECT count(*) FROM hand);
-- export_sql reads the values on the caller's connection and shows the current query
SELECT 'B sql', export_sql('b');

-- C. Every aggregator, two fields (NULL regions and customers), sum/avg of a TEXT column
--    (SQLite's rules: text that is not a number counts as 0), sorted by a summary descending;
--    ties (two 4.25) are broken by the fields; NULL sums come last.
INSERT INTO exports(name, source, options) VALUES ('c', 'orders',
  '{"pivot": {"fields": ["region", "customer"], "summaries": [{"aggregator": "cnt"}, {"aggregator": "cnt", "column": "total"}, {"aggregator": "cnt_distinct", "column": "total"}, {"aggregator": "sum", "column": "total"}, {"aggregator": "avg", "column": "total"}, {"aggregator": "min", "column": "total"}, {"aggregator": "max", "column": "total"}, {"aggregator": "sum", "column": "note", "as": "note_sum"}, {"aggregator": "avg", "column": "note", "as": "note_avg"}], "sort": {"column": "sum_total", "desc": true}}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["region", "customer", "_cnt", "cnt_total", "cnt_distinct_total", "sum_total", "avg_total", "min_total", "max_total", "note_sum", "note_avg"]');
INSERT INTO hand(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)
  SELECT region, customer, count(*), count(total), count(DISTINCT total), sum(total), avg(total), min(total), max(total),
         sum(note), avg(note)
  FROM orders GROUP BY region, customer ORDER BY sum(total) DESC, region, customer;
SELECT export_wait(export_run('c', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/c-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'C csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
UPDATE exports SET format = 'jsonl' WHERE name = 'c';
SELECT export_wait(export_run('c', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/c-2.jsonl') AS TEXT);
SELECT 'C jsonl', ok FROM jsonl_ok;
SELECT 'C count', export_count('c') = (SELECT count(*) FROM hand);

-- D. Column pivot with criteria (a date range on date_column: applied before grouping, so
--    region 'east' has no column), sorted by a summary, which for a column pivot is its value
--    over the whole group; ties broken by the field.
INSERT INTO exports(name, source, options) VALUES ('d', 'orders',
  '{"date_column": "day", "pivot": {"fields": ["status"], "column": "region", "summaries": [{"aggregator": "cnt_distinct", "column": "customer", "as": "customers"}, {"aggregator": "avg", "column": "total"}, {"aggregator": "max", "column": "total"}], "sort": {"column": "customers", "desc": true}}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["status", "NULL_customers", "NULL_avg_total", "NULL_max_total", "north_customers", "north_avg_total", "north_max_total", "south_customers", "south_avg_total", "south_max_total"]');
INSERT INTO hand(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10)
  SELECT status,
         count(DISTINCT customer) FILTER (WHERE region IS NULL), avg(total) FILTER (WHERE region IS NULL), max(total) FILTER (WHERE region IS NULL),
         count(DISTINCT customer) FILTER (WHERE region = 'north'), avg(total) FILTER (WHERE region = 'north'), max(total) FILTER (WHERE region = 'north'),
         count(DISTINCT customer) FILTER (WHERE region = 'south'), avg(total) FILTER (WHERE region = 'south'), max(total) FILTER (WHERE region = 'south')
  FROM orders WHERE day <= '2026-05-02' GROUP BY status ORDER BY count(DISTINCT customer) DESC, status;
SELECT export_wait(export_run('d', '{"date_to_utc": "2026-05-02"}'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/d-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'D csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
UPDATE exports SET format = 'jsonl' WHERE name = 'd';
SELECT export_wait(export_run('d', '{"date_to_utc": "2026-05-02"}'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/d-2.jsonl') AS TEXT);
SELECT 'D jsonl', ok FROM jsonl_ok;
SELECT 'D count', export_count('d', '{"date_to_utc": "2026-05-02"}') = (SELECT count(*) FROM hand);
SELECT 'D sql', export_sql('d', '{"date_to_utc": "2026-05-02"}');

-- E. No fields: one row for all the rows the criteria match, a column per status.
INSERT INTO exports(name, source, options) VALUES ('e', 'orders',
  '{"pivot": {"fields": [], "column": "status", "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total"}]}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["open__cnt", "open_sum_total", "paid__cnt", "paid_sum_total"]');
INSERT INTO hand(c1, c2, c3, c4)
  SELECT count(*) FILTER (WHERE status = 'open'), sum(total) FILTER (WHERE status = 'open'),
         count(*) FILTER (WHERE status = 'paid'), sum(total) FILTER (WHERE status = 'paid')
  FROM orders WHERE customer = 'ann';
SELECT export_wait(export_run('e', '[{"attribute": "customer", "operator": "IS_EQUAL_TO", "value": "ann"}]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/e-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'E csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
UPDATE exports SET format = 'jsonl' WHERE name = 'e';
SELECT export_wait(export_run('e', '[{"attribute": "customer", "operator": "IS_EQUAL_TO", "value": "ann"}]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/e-2.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'E jsonl', ok FROM jsonl_ok;
SELECT 'E count', export_count('e', '[{"attribute": "customer", "operator": "IS_EQUAL_TO", "value": "ann"}]');

-- F. Criteria that match nothing: a column pivot has only its fields and no row; without
--    fields and column, one row (count 0, sum NULL), as SQL's aggregate without GROUP BY.
SELECT export_wait(export_run('b', '[{"attribute": "id", "operator": "IS_GREATER_THAN", "value": 100}]'));
SELECT 'F1', CAST(readfile('test.db-exports/b-3.jsonl') AS TEXT) = '', rows_written, sql FROM export_runs WHERE export_name = 'b' AND number = 3;
UPDATE exports SET format = 'csv' WHERE name = 'b';
SELECT export_wait(export_run('b', '[{"attribute": "id", "operator": "IS_GREATER_THAN", "value": 100}]'));
SELECT 'F1 csv', CAST(readfile('test.db-exports/b-4.csv') AS TEXT);
INSERT INTO exports(name, source, options) VALUES ('f', 'orders',
  '{"pivot": {"fields": [], "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total"}]}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["_cnt", "sum_total"]');
INSERT INTO hand(c1, c2) SELECT count(*), sum(total) FROM orders WHERE id > 100;
SELECT export_wait(export_run('f', '[{"attribute": "id", "operator": "IS_GREATER_THAN", "value": 100}]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/f-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'F2 csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
SELECT 'F2 sql', export_sql('f', '[]');
UPDATE exports SET format = 'jsonl' WHERE name = 'f';
SELECT export_wait(export_run('f', '[{"attribute": "id", "operator": "IS_GREATER_THAN", "value": 100}]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/f-2.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'F2 jsonl', ok FROM jsonl_ok;

-- G. Sort by a field descending (NULL last), with two readers configured: a pivot is always
--    read by one reader, in one statement.
SELECT export_config('parallel', 2);
INSERT INTO exports(name, source, format, options) VALUES ('g', 'orders', 'jsonl',
  '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "max", "column": "day", "as": "last"}], "sort": {"column": "customer", "desc": true}}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES ('["customer", "last"]');
INSERT INTO hand(c1, c2) SELECT customer, max(day) FROM orders GROUP BY customer ORDER BY customer DESC;
SELECT export_wait(export_run('g', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/g-1.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'G jsonl', ok FROM jsonl_ok;
SELECT export_config('parallel', 1);

-- H. Values of every type name their columns (integer, REAL as the writer prints it, text
--    with a quote and spaces, NULL); a hostile value is bound, never pasted into the SQL.
CREATE TABLE m(id INTEGER PRIMARY KEY, k TEXT, v);
INSERT INTO m(k, v) VALUES ('a', 1), ('a', 2.5), ('b', 3.0), ('b', 'x") OR 1=1 --'), ('a', NULL), ('b', 1), ('c', 'it''s');
INSERT INTO exports(name, source, options) VALUES ('h', 'm', '{"pivot": {"fields": ["k"], "column": "v", "summaries": [{"aggregator": "cnt", "as": "n"}]}}');
DELETE FROM hand; DELETE FROM hand_header;
INSERT INTO hand_header VALUES (json_array('k', 'NULL_n', '1_n', '2.5_n', '3.0_n', 'it''s_n', 'x") OR 1=1 --_n'));
INSERT INTO hand(c1, c2, c3, c4, c5, c6, c7)
  SELECT k, count(*) FILTER (WHERE v IS NULL), count(*) FILTER (WHERE v = 1), count(*) FILTER (WHERE v = 2.5),
         count(*) FILTER (WHERE v = 3.0), count(*) FILTER (WHERE v = 'it''s'), count(*) FILTER (WHERE v = 'x") OR 1=1 --')
  FROM m GROUP BY k ORDER BY k;
SELECT export_wait(export_run('h', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/h-1.csv') AS TEXT);
SELECT t FROM got;
SELECT 'H csv', (SELECT t FROM got) = (SELECT t FROM hand_csv);
SELECT 'H runs', sql, params FROM export_runs WHERE export_name = 'h';
INSERT INTO exports(name, source, format, options)
  SELECT 'hj', source, 'jsonl', json_set(options, '$.output_name', 'hj') FROM exports WHERE name = 'h';
SELECT export_wait(export_run('hj', '[]'));
DELETE FROM got; INSERT INTO got SELECT CAST(readfile('test.db-exports/hj-1.jsonl') AS TEXT);
SELECT t FROM got;
SELECT 'H jsonl', ok FROM jsonl_ok;

-- Run-time refusals: the run fails with not_admissible before any file is written.
-- more distinct values than pivot_max_columns (export_sql and export_count say so too)
UPDATE exports SET options = json_set(options, '$.pivot_max_columns', 4) WHERE name = 'b';
SELECT export_wait(export_run('b', '[]'));
SELECT 'too many', status, failure_reason, file_count FROM export_runs WHERE export_name = 'b' AND number = 5;
SELECT export_sql('b');
SELECT export_count('b');
SELECT 'criteria first', export_count('b', '[{"attribute": "status", "operator": "IS_IN", "value": ["open", "paid"]}]');
-- two values giving one name: NULL and 'NULL'; 1 and '1' (a column without affinity)
INSERT INTO m(k, v) VALUES ('d', 'NULL');
SELECT export_wait(export_run('h', '[]'));
SELECT 'same name', status, failure_reason FROM export_runs WHERE export_name = 'h' AND number = 2;
SELECT export_wait(export_run('h', '[{"attribute": "v", "operator": "IS_NOT_EMPTY"}, {"attribute": "k", "operator": "IS_NOT_EQUAL_TO", "value": "d"}]'));
SELECT 'no NULL', status, rows_written FROM export_runs WHERE export_name = 'h' AND number = 3;
INSERT INTO m(k, v) VALUES ('d', '1');
SELECT export_wait(export_run('h', '[{"attribute": "v", "operator": "IS_NOT_EMPTY"}]'));
SELECT 'same name', status, failure_reason FROM export_runs WHERE export_name = 'h' AND number = 4;
-- a generated name equal to a field's
INSERT INTO exports(name, source, options) VALUES ('h2', 'SELECT k, v, ''x'' AS a_n FROM m', '{"pivot": {"fields": ["a_n"], "column": "k", "summaries": [{"aggregator": "cnt", "as": "n"}]}}');
SELECT export_wait(export_run('h2', '[]'));
SELECT 'field name', status, failure_reason FROM export_runs WHERE export_name = 'h2';
-- a BLOB value
INSERT INTO m(k, v) VALUES ('e', x'00ff');
SELECT export_wait(export_run('h', '[{"attribute": "k", "operator": "IS_EQUAL_TO", "value": "e"}]'));
SELECT 'blob', status, failure_reason FROM export_runs WHERE export_name = 'h' AND number = 5;
-- max_rows counts output rows (groups): 7 customers
UPDATE exports SET options = json_set(options, '$.max_rows', 6) WHERE name = 'a';
SELECT export_wait(export_run('a', '[]'));
SELECT 'max_rows', status, failure_reason FROM export_runs WHERE export_name = 'a' AND number = 3;
UPDATE exports SET options = json_set(options, '$.max_rows', 7) WHERE name = 'a';
SELECT export_wait(export_run('a', '[]'));
SELECT 'max_rows', status, rows_written FROM export_runs WHERE export_name = 'a' AND number = 4;
SELECT 'files', count(*) FROM export_files WHERE run_id IN (SELECT id FROM export_runs WHERE status = 'FAILED');
-- more output columns than SQLite allows in a result (2000): 1 field + 1001 values * 2 summaries
CREATE TABLE wide(id INTEGER PRIMARY KEY, g TEXT, v INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1001) INSERT INTO wide(g, v) SELECT 'x', i FROM n;
INSERT INTO exports(name, source, options) VALUES ('w', 'wide', '{"pivot_max_columns": 2000, "pivot": {"fields": ["g"], "column": "v", "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "id"}]}}');
SELECT export_wait(export_run('w', '[]'));
SELECT 'wide', status, failure_reason FROM export_runs WHERE export_name = 'w';
-- within it: 1 + 999 * 2 = 1999 columns
SELECT export_wait(export_run('w', '[{"attribute": "v", "operator": "IS_LESS_THAN", "value": 1000}]'));
SELECT 'wide', status, rows_written, length(CAST(readfile('test.db-exports/w-2.csv') AS TEXT)) - length(replace(CAST(readfile('test.db-exports/w-2.csv') AS TEXT), ',', '')) FROM export_runs WHERE export_name = 'w' AND number = 2;
-- a value that is not valid UTF-8: CSV keeps the bytes of its name, JSON replaces them by U+FFFD
CREATE TABLE u(k TEXT, v TEXT);
INSERT INTO u VALUES ('a', CAST(x'41ff' AS TEXT)), ('a', 'B');
INSERT INTO exports(name, source, options) VALUES ('u', 'u', '{"pivot": {"fields": ["k"], "column": "v"}}');
SELECT 'utf8 sql', export_sql('u');
SELECT export_wait(export_run('u', '[]'));
SELECT 'utf8 csv', hex(readfile('test.db-exports/u-1.csv'));
UPDATE exports SET format = 'jsonl' WHERE name = 'u';
SELECT export_wait(export_run('u', '[]'));
SELECT 'utf8 jsonl', CAST(readfile('test.db-exports/u-2.jsonl') AS TEXT), (SELECT params FROM export_runs WHERE export_name = 'u' AND number = 2);
