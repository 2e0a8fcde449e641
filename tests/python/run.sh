#!/usr/bin/env bash
# Runs one Python test with Debian's python3 (built with extension loading), in a temp folder.
set -euo pipefail
py=${1:?usage: run.sh test.py}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$(dirname "$0")/../preload-wrappers.sh"
exec "$EXPORT_PYTHON" "$py"
