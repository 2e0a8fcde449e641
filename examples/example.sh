#!/usr/bin/env bash
# A shell script that must leave with its file written: it waits for the run.
#   usage: examples/example.sh path/to/export   (module path without .so)
set -euo pipefail
module=${1:-build/export}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sqlite3 "$work/app.db" "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'x'), (2, 'y, z');"
# .timeout: in rollback-journal mode the worker's short writes briefly lock readers out.
sqlite3 -cmd ".load $module" -cmd ".timeout 5000" "$work/app.db" <<'SQL'
INSERT INTO exports(name, source) VALUES ('t', 't');
SELECT export_wait(export_run('t', '[]'));
SQL
cat "$work/app.db-exports/t-1.csv"
