#!/usr/bin/env bash
# The loadable module must export exactly one symbol: its entry point sqlite3_export_init.
set -euo pipefail
mod=${1:?usage: check-symbols.sh export.so}
defined=$(nm -D --defined-only "$mod" | awk '{print $3}' | sort)
if [ "$defined" != "sqlite3_export_init" ]; then
  echo "check-symbols: $mod exports more than its entry point:" >&2
  echo "$defined" >&2
  exit 1
fi
echo "check-symbols: only sqlite3_export_init is exported"
