#!/usr/bin/env bash
# Developer tool: rewrite tests/sql/NAME.expected from the current build's output.
# Read the diff before committing: the expected files are the specification of the tests.
#   usage: tests/sql/regen.sh NAME [build dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: regen.sh NAME [build]}
build=$(cd "${2:-$here/../../build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
{ grep '^-- shell: ' "$here/$name.sql" || true; } | sed 's/^-- shell: //' | while read -r cmd; do bash -c "$cmd"; done
sed "s|\$MODULE|$build/export|g" "$here/$name.sql" | sqlite3 -batch test.db > "$here/$name.expected" 2>&1 || true
git -C "$here" diff --stat -- "$name.expected" || true
