-- Criteria: every operator on TEXT, INTEGER, REAL, NULL and date columns, every shape; each
-- line compares the rows a run would export with a hand-written query (1 = same rows).
.load $MODULE
SELECT export_config('workers', 0);
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, note TEXT, day TEXT);
INSERT INTO t VALUES (1, 'apple', 10, 1.5, NULL, '2026-04-01T08:00:00Z'), (2, 'Apricot', 20, 2.25, '', '2026-04-15T12:00:00Z'),
  (3, 'banana', NULL, 0.5, 'ripe', '2026-04-30T23:59:59Z'), (4, '50%_off', 5, NULL, 'a\b', '2026-05-01T00:00:00Z'),
  (5, NULL, 10, 10.0, 'x', NULL), (6, 'cherry', -3, -0.75, 'it''s', '2026-03-31T23:59:59Z');
INSERT INTO exports(name, source, options) VALUES ('t', 't', '{"date_column": "day"}');
CREATE TEMP VIEW q AS SELECT 1;
-- comparisons
SELECT export_count('t', '[{"attribute": "name", "operator": "IS_EQUAL_TO", "value": "apple"}]') = (SELECT count(*) FROM t WHERE name = 'apple');
SELECT export_count('t', '[{"attribute": "name", "operator": "IS_EQUAL_TO", "value": null}]') = (SELECT count(*) FROM t WHERE name IS NULL);
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_NOT_EQUAL_TO", "value": 10}]') = (SELECT count(*) FROM t WHERE qty IS NOT 10);
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_GREATER_THAN", "value": 5}]') = (SELECT count(*) FROM t WHERE qty > 5);
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_GREATER_THAN_OR_EQUAL_TO", "value": 10}]') = (SELECT count(*) FROM t WHERE qty >= 10);
SELECT export_count('t', '[{"attribute": "price", "operator": "IS_LESS_THAN", "value": 1.5}]') = (SELECT count(*) FROM t WHERE price < 1.5);
SELECT export_count('t', '[{"attribute": "price", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 1.5}]') = (SELECT count(*) FROM t WHERE price <= 1.5);
SELECT export_count('t', '[{"attribute": "day", "operator": "IS_BEFORE", "value": "2026-04-15"}]') = (SELECT count(*) FROM t WHERE day < '2026-04-15');
SELECT export_count('t', '[{"attribute": "day", "operator": "IS_AFTER", "value": "2026-04-15"}]') = (SELECT count(*) FROM t WHERE day > '2026-04-15');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_GREATER_THAN", "value": "5"}]') = (SELECT count(*) FROM t WHERE qty > '5');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_BETWEEN", "value": [5, 10]}]') = (SELECT count(*) FROM t WHERE qty BETWEEN 5 AND 10);
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_IN", "value": [5, 20, 99]}]') = (SELECT count(*) FROM t WHERE qty IN (5, 20, 99));
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_NOT_IN", "value": [5, 20]}]') = (SELECT count(*) FROM t WHERE qty IS NULL OR qty NOT IN (5, 20));
SELECT export_count('t', '[{"attribute": "price", "operator": "IS_EQUAL_TO", "value": true}]') = (SELECT count(*) FROM t WHERE price = 1);
-- text matching: literal %, _ and \, ASCII case-insensitive
SELECT export_count('t', '[{"attribute": "name", "operator": "CONTAINS", "value": "an"}]') = (SELECT count(*) FROM t WHERE instr(lower(name), 'an') > 0);
SELECT export_count('t', '[{"attribute": "name", "operator": "CONTAINS", "value": "%_"}]') = (SELECT count(*) FROM t WHERE instr(name, '%_') > 0);
SELECT export_count('t', '[{"attribute": "note", "operator": "CONTAINS", "value": "\\"}]') = (SELECT count(*) FROM t WHERE instr(note, '\') > 0);
SELECT export_count('t', '[{"attribute": "name", "operator": "DOES_NOT_CONTAIN", "value": "an"}]') = (SELECT count(*) FROM t WHERE name IS NULL OR instr(lower(name), 'an') = 0);
SELECT export_count('t', '[{"attribute": "name", "operator": "STARTS_WITH", "value": "ap"}]') = (SELECT count(*) FROM t WHERE lower(substr(name, 1, 2)) = 'ap');
SELECT export_count('t', '[{"attribute": "name", "operator": "DOES_NOT_START_WITH", "value": "ap"}]') = (SELECT count(*) FROM t WHERE name IS NULL OR lower(substr(name, 1, 2)) <> 'ap');
SELECT export_count('t', '[{"attribute": "name", "operator": "ENDS_WITH", "value": "_off"}]') = (SELECT count(*) FROM t WHERE substr(name, -4) = '_off');
SELECT export_count('t', '[{"attribute": "note", "operator": "IS_EMPTY"}]') = (SELECT count(*) FROM t WHERE note IS NULL OR note = '');
SELECT export_count('t', '[{"attribute": "note", "operator": "IS_NOT_EMPTY"}]') = (SELECT count(*) FROM t WHERE note <> '');
-- shapes
SELECT export_count('t', '[]') = (SELECT count(*) FROM t);
SELECT export_count('t', '{"logical": "OR", "items": []}') = (SELECT count(*) FROM t);
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 10}, {"attribute": "price", "operator": "IS_LESS_THAN", "value": 5}]') = (SELECT count(*) FROM t WHERE qty = 10 AND price < 5);
SELECT export_count('t', '[[{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 10}, {"attribute": "price", "operator": "IS_LESS_THAN", "value": 5}], "OR", [{"attribute": "name", "operator": "IS_EQUAL_TO", "value": "cherry"}]]') = (SELECT count(*) FROM t WHERE (qty = 10 AND price < 5) OR name = 'cherry');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 5}, "OR", {"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 20}, "AND", {"attribute": "price", "operator": "IS_GREATER_THAN", "value": 2}]') = (SELECT count(*) FROM t WHERE qty = 5 OR (qty = 20 AND price > 2));
SELECT export_count('t', '{"logical": "AND", "items": [{"logical": "OR", "items": [{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 5}, {"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 10}]}, {"attribute": "name", "operator": "IS_NOT_EMPTY"}]}') = (SELECT count(*) FROM t WHERE qty IN (5, 10) AND name <> '');
SELECT export_count('t', '{"date_from_utc": "2026-04-01T00:00:00Z", "date_to_utc": "2026-04-30T23:59:59Z"}') = (SELECT count(*) FROM t WHERE day >= '2026-04-01T00:00:00Z' AND day <= '2026-04-30T23:59:59Z');
SELECT export_count('t', '{"date_from_utc": "2026-04-15"}') = (SELECT count(*) FROM t WHERE day >= '2026-04-15');
-- injection attempts: values match literally, attributes are refused
SELECT export_count('t', '[{"attribute": "name", "operator": "IS_EQUAL_TO", "value": "x'') OR 1=1 --"}]');
SELECT export_count('t', '[{"attribute": "note", "operator": "IS_EQUAL_TO", "value": "it''s"}]');
SELECT export_count('t', '[{"attribute": "name) OR 1=1 --", "operator": "IS_EMPTY"}]');
SELECT export_count('t', '[{"attribute": "\"name\"", "operator": "IS_EMPTY"}]');
SELECT export_sql('t', '[{"attribute": "NAME", "operator": "IS_EQUAL_TO", "value": "a;b"}]');
-- errors
SELECT export_count('t', '{"date_from_utc": "2026-05-01", "date_to_utc": "2026-04-01"}');
SELECT export_count('t', '{"date_from_utc": "April 1st"}');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_BETWEEN", "value": [10, 5]}]');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_IN", "value": []}]');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_EMPTY", "value": 1}]');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_GREATER_THAN"}]');
SELECT export_count('t', '[{"attribute": "name", "operator": "CONTAINS", "value": 3}]');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 1, "extra": 2}]');
SELECT export_count('t', '{"logical": "XOR", "items": []}');
SELECT export_count('t', '["OR", {"attribute": "qty", "operator": "IS_EMPTY"}]');
SELECT export_count('t', '[42]');
SELECT export_count('t', '"qty = 1"');
SELECT export_count('t', '[{"attribute": "qty", "operator": "IS_EQUAL_TO", "value": 1}');
