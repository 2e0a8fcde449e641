#!/usr/bin/env bash
# Runs one SQL test: tests/sql/NAME.sql through the real sqlite3 shell with the extension loaded,
# in a fresh temporary folder, and compares stdout+stderr with tests/sql/NAME.expected.
# Lines of the form `-- shell: COMMAND` in the .sql file run before it, in the same folder
# (to set up files). The variable $MODULE in the script is replaced by the module's path stem.
set -euo pipefail
sql=${1:?usage: run.sh NAME.sql}
expected=${sql%.sql}.expected
source "$(dirname "$0")/../preload-wrappers.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
{ grep '^-- shell: ' "$sql" || true; } | sed 's/^-- shell: //' | while read -r cmd; do bash -c "$cmd"; done
sed "s|\$MODULE|${EXPORT_MODULE_STEM}|g" "$sql" > test.sql
"$EXPORT_SQLITE3" -batch test.db < test.sql > actual.txt 2>&1 || true
if ! diff -u "$expected" actual.txt; then
  echo "run.sh: output of $(basename "$sql") differs from $(basename "$expected") (- expected, + actual)" >&2
  exit 1
fi
echo "ok $(basename "$sql")"
