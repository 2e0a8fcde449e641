#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build, and run the demo.
# It builds only what the demo needs: the module build/export.so, without the tests, and without
# debug information (build type Release: -O2, as the tests' build; -g would add half again to
# the compile time). Command 2 (scripts/test.sh, through scripts/build.sh) configures the same
# build folder as RelWithDebInfo with the tests on, and so compiles it again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DEXPORT_WERROR=ON -DEXPORT_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target export -j"$(nproc)"
bash examples/demo.sh build/export
