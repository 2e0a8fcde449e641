#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build, and run the demo.
# It builds only what the demo needs: the module build/export.so, without the tests. Command 2
# (scripts/test.sh, through scripts/build.sh) configures the same build folder with the tests on
# again and reuses the module's objects.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DEXPORT_WERROR=ON -DEXPORT_BUILD_TESTS=OFF >/dev/null
cmake --build build --target export -j"$(nproc)"
bash examples/demo.sh build/export
