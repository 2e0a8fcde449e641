#!/usr/bin/env bash
# Runs every example as a test: the demo, the shell script, the tutorial (its output checked
# against examples/tutorial.expected), the Python script, and the C++ program built against the
# installed static library (cmake --install + find_package).
set -euo pipefail
src=${EXPORT_SOURCE_DIR:?}
build=${EXPORT_BUILD_DIR:?}
stem=${EXPORT_MODULE_STEM:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$src/tests/preload-wrappers.sh"

echo "--- examples/demo.sh"
mkdir -p "$work/demo"
out=$(DEMO_DIR="$work/demo" bash "$src/examples/demo.sh" "$stem")
echo "$out"
grep -q "COMPLETE" <<<"$out"
grep -q '^id,customer,total,note' <<<"$out"

echo "--- examples/example.sh"
out=$(bash "$src/examples/example.sh" "$stem")
echo "$out"
[ "$out" = "$(printf 'COMPLETE\na,b\n1,x\n2,"y, z"')" ]

echo "--- examples/tutorial.sql (its output must equal examples/tutorial.expected)"
# As a newcomer runs it (sqlite3 tutorial.db < examples/tutorial.sql), with this build's module.
mkdir -p "$work/tutorial"
sed "s|^\.load \./build/export\$|.load $stem|" "$src/examples/tutorial.sql" > "$work/tutorial/tutorial.sql"
(cd "$work/tutorial" && sqlite3 -batch tutorial.db < tutorial.sql > actual.txt 2>&1) || true
diff -u "$src/examples/tutorial.expected" "$work/tutorial/actual.txt"

echo "--- examples/example.py"
"${EXPORT_PYTHON:-/usr/bin/python3}" "$src/examples/example.py" "$stem"

echo "--- examples/cpp (installed static library, find_package)"
cmake_cmd=${CMAKE_COMMAND:-cmake}
"$cmake_cmd" --install "$build" --prefix "$work/prefix" >/dev/null
flags=""
case "${EXPORT_SANITIZE:-}" in
  *address*) flags="-fsanitize=address,undefined" ;;
  *thread*) flags="-fsanitize=thread" ;;
esac
"$cmake_cmd" -S "$src/examples/cpp" -B "$work/cpp" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
"$cmake_cmd" --build "$work/cpp" >/dev/null
(cd "$work" && ./cpp/export_example "$work/app.db") | tee "$work/cpp.out"
grep -q "status=COMPLETE" "$work/cpp.out"
grep -q "row_count=3" "$work/cpp.out"
echo "examples: all passed"
