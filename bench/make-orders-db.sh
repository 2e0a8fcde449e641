#!/usr/bin/env bash
# COPY of the shared benchmark generator ../shared/bench/make-orders-db.sh (the project's
# canonical data set), kept here so the benchmark runs from a clean clone where ../shared is
# missing (CI). bench/run.sh uses the shared one when it exists; keep the two identical below
# this comment block (bench/run.sh warns when they differ).
# Builds the shared benchmark database: one table `orders` with ROWS rows (default 2,000,000)
# of mixed types, including the values that break naive CSV writers: quotes, commas,
# newlines, non-ASCII text, NULLs, blobs, huge integers and REALs that need 17 digits.
# The data is deterministic: the same ROWS always gives the same table.
#   usage: make-orders-db.sh OUT.db [ROWS]
set -euo pipefail
out=${1:?usage: make-orders-db.sh OUT.db [ROWS]}
rows=${2:-2000000}
command -v sqlite3 >/dev/null || { echo "make-orders-db.sh: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }
rm -f "$out" "$out-wal" "$out-shm"
sqlite3 "$out" <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE orders(
  id INTEGER PRIMARY KEY,
  customer TEXT NOT NULL,
  status TEXT NOT NULL,
  total REAL,
  qty INTEGER,
  created_at TEXT NOT NULL,
  note TEXT,
  payload BLOB
);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_created_at ON orders(created_at);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows)
INSERT INTO orders
SELECT i,
       'customer ' || (i % 9973),
       CASE i % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'open' WHEN 2 THEN 'shipped' ELSE 'void' END,
       CASE WHEN i % 1000 = 0 THEN NULL
            WHEN i % 333 = 0 THEN -(i * 1e15) / 3.0
            ELSE (i * 1.37) / 7.0 END,
       CASE WHEN i % 5000 = 0 THEN 9223372036854775807 - i ELSE i % 97 END,
       strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + i * 13, 'unixepoch'),
       CASE WHEN i % 10 = 0 THEN NULL
            WHEN i % 7 = 0 THEN 'has "quotes", commas'
            WHEN i % 11 = 0 THEN 'two' || char(10) || 'lines'
            WHEN i % 13 = 0 THEN 'café ünïcödé 日本 ' || i
            WHEN i % 17 = 0 THEN ''
            ELSE 'plain note ' || i END,
       CASE WHEN i % 50 = 0 THEN x'00ff10fe'
            WHEN i % 70 = 0 THEN zeroblob(i % 7 + 1)
            WHEN i % 90 = 0 THEN CAST('blob text ' || i AS BLOB)
            ELSE NULL END
FROM c;
SQL
echo "make-orders-db.sh: wrote $out with $rows rows"
