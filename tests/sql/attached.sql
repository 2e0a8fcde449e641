-- A definition whose source is in an attached database works; the worker attaches it too.
-- shell: sqlite3 other.db "CREATE TABLE items(id INTEGER PRIMARY KEY, label TEXT); INSERT INTO items VALUES (1, 'bolt'), (2, 'nut');"
.load $MODULE
PRAGMA journal_mode = WAL;
ATTACH 'other.db' AS aux;
INSERT INTO exports(name, source) VALUES ('items', 'aux.items');
SELECT source FROM exports;
SELECT export_count('items');
SELECT export_wait(export_run('items', '[{"attribute": "label", "operator": "IS_NOT_EQUAL_TO", "value": "nut"}]'));
SELECT status, rows_written FROM export_runs;
SELECT CAST(readfile('test.db-exports/items-1.csv') AS TEXT);
-- a SELECT source may read the attached database too; its own ORDER BY is not kept: the
-- export orders by every column unless option order_by says otherwise
INSERT INTO exports(name, source) VALUES ('labels', 'SELECT label FROM aux.items ORDER BY label DESC');
SELECT export_wait(export_run('labels', '[]'));
SELECT CAST(readfile('test.db-exports/labels-1.csv') AS TEXT);
UPDATE exports SET options = '{"order_by": [{"column": "label", "desc": true}]}' WHERE name = 'labels';
SELECT export_wait(export_run('labels', '[]'));
SELECT CAST(readfile('test.db-exports/labels-2.csv') AS TEXT);
