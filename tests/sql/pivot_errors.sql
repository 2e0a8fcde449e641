-- Pivot exports: every validation rule of option 'pivot' with its exact error; a rejected
-- write stores nothing; options shows the pivot with its defaults filled in.
.load $MODULE
.timeout 5000
SELECT export_config('workers', 0);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL, created_at TEXT);
-- the option itself
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": ["customer"]}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "group": "status"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"column": "status"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot_max_columns": 0}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot_max_columns": 10001}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot_max_columns": "10"}');
-- fields
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": "customer"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["custmer"]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": [1]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer", "CUSTOMER"]}}');
-- column
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "column": "state"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "column": ["status"]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "column": "Customer"}}');
-- summaries
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": []}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": {"aggregator": "cnt"}}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": ["cnt"]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt", "name": "n"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"column": "total"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt"}, {"aggregator": "total", "column": "total"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "SUM", "column": "total"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": 1}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "sum"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt_distinct", "column": null}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "avg", "column": "totl"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "max", "column": "total", "as": ""}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "max", "column": "total", "as": 7}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt"}, {"aggregator": "cnt", "as": "_CNT"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "sum", "column": "total", "as": "Customer"}]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'SELECT total, total AS sum_total FROM orders', '{"pivot": {"fields": ["sum_total"], "summaries": [{"aggregator": "sum", "column": "total"}]}}');
-- sort
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "sort": "customer"}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "sort": {"column": "customer", "order": "desc"}}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "sort": {"desc": true}}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total", "as": "revenue"}], "sort": {"column": "total"}}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"], "sort": {"column": "customer", "desc": 1}}}');
-- with other options and columns
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"]}, "order_by": ["id"]}');
INSERT INTO exports(name, source, columns, options) VALUES ('a', 'orders', '["customer"]', '{"pivot": {"fields": ["customer"]}}');
INSERT INTO exports(name, source, options) VALUES ('a', 'orders', '{"pivot": {"fields": ["customer"]}, "date_column": "nope"}');
-- nothing was stored by the rejected writes (not even the extension's tables)
SELECT count(*) FROM sqlite_schema WHERE name LIKE '\_export%' ESCAPE '\';
-- accepted: options shows every default, the pivot's included; names resolve to the source's spelling
INSERT INTO exports(name, source, options) VALUES ('plain', 'orders', NULL);
SELECT json_extract(options, '$.pivot') IS NULL, json_extract(options, '$.pivot_max_columns') FROM exports WHERE name = 'plain';
INSERT INTO exports(name, source, options) VALUES ('p', 'orders', '{"pivot": {"fields": ["Customer"], "column": "STATUS", "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "Total", "as": "revenue"}, {"aggregator": "cnt_distinct", "column": "total"}, {"aggregator": "cnt", "column": "total"}], "sort": {"column": "REVENUE", "desc": true}}, "pivot_max_columns": 50}');
SELECT options FROM exports WHERE name = 'p';
INSERT INTO exports(name, source, options) VALUES ('q', 'orders', '{"pivot": {"fields": []}}');
SELECT json_extract(options, '$.pivot') FROM exports WHERE name = 'q';
-- the shown options are accepted back as they are
UPDATE exports SET options = options WHERE name = 'p';
SELECT json_extract(options, '$.pivot') FROM exports WHERE name = 'p';
-- an UPDATE is validated the same way
UPDATE exports SET options = '{"pivot": {"fields": ["customer"], "column": "customer"}}' WHERE name = 'p';
UPDATE exports SET columns = '["id"]' WHERE name = 'p';
UPDATE exports SET source = 'SELECT id, status FROM orders' WHERE name = 'p';
SELECT json_extract(options, '$.pivot.fields') FROM exports WHERE name = 'p';
