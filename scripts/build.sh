#!/usr/bin/env bash
# Configures and builds one build tree, tests included: scripts/build.sh DIR [cmake options...]
# (EXPORT_BUILD_TESTS=ON is given every time, since scripts/demo.sh leaves it OFF in build/.)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
cmake -S . -B "$dir" -DEXPORT_WERROR=ON -DEXPORT_BUILD_TESTS=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
