#!/usr/bin/env bash
# The demo: create a sample database, define an export, run it, wait for it, and show the run,
# its files and the first lines of the CSV.   usage: examples/demo.sh [path/to/export.so]
set -euo pipefail
module=${1:-build/export}
module=$(cd "$(dirname "$module")" && pwd)/$(basename "${module%.so}")
work=${DEMO_DIR:-$(mktemp -d)}
cd "$work"
rm -rf shop.db shop.db-wal shop.db-shm shop.db-exports
sqlite3 shop.db <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO orders SELECT i, 'customer ' || (i % 37), CASE i % 3 WHEN 0 THEN 'paid' WHEN 1 THEN 'open' ELSE 'void' END,
       round(i * 1.37, 2), CASE WHEN i % 10 = 0 THEN 'says "hi", twice' END FROM n;
SQL
sqlite3 -cmd ".load $module" -header -column shop.db <<'SQL'
INSERT INTO exports(name, source, columns, options)
  VALUES ('paid_orders', 'orders', '["id","customer","total","note"]', '{"order_by": [{"column": "total", "desc": true}]}');
SELECT export_wait(export_run('paid_orders',
  '[{"attribute": "status", "operator": "IS_EQUAL_TO", "value": "paid"}]')) AS status;
SELECT number, status, rows_written, bytes_written, file_count, progress FROM export_runs;
SELECT part, size_bytes, row_count, substr(sha256, 1, 16) AS sha256_prefix, path FROM export_files;
SQL
echo
echo "first lines of the CSV:"
head -n 5 shop.db-exports/paid_orders-1.csv
