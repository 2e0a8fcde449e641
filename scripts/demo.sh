#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
bash examples/demo.sh build/export
