#!/usr/bin/env bash
# Command 2 of the README: install what is missing, build, and run every test: the normal build,
# then the AddressSanitizer+UndefinedBehaviorSanitizer build and the ThreadSanitizer build.
# Any failing test makes this script, and so CI, fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
jobs=$(nproc)
run() {  # run DIR [cmake options...]
  local dir=$1; shift
  echo "=== $dir: build"
  bash scripts/build.sh "$dir" "$@"
  echo "=== $dir: test"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 1200
}
run build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run build-asan -DCMAKE_BUILD_TYPE=Debug "-DEXPORT_SANITIZE=address,undefined"
run build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEXPORT_SANITIZE=thread
echo "=== fuzz: criteria compiler (bounded)"
EXPORT_BUILD_DIR=build/fuzz bash tests/fuzz/run-fuzz.sh "${EXPORT_FUZZ_SECONDS:-60}"
echo "=== benchmark smoke run (not timed)"
bash bench/run.sh --smoke
echo "all tests passed"
