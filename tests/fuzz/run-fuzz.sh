#!/usr/bin/env bash
# run-fuzz.sh: build the criteria fuzzer (criteria_fuzz.cpp) and run it for a while.
#
#   tests/fuzz/run-fuzz.sh SECONDS        from any directory
#
# Builds with clang++ (or clang++-14) and -fsanitize=fuzzer,address,undefined into
# $EXPORT_BUILD_DIR/fuzz (default: <repository>/build/fuzz), copies the seed corpus
# tests/fuzz/corpus to a scratch corpus there (so the seeds stay as they are), and runs the
# fuzzer for SECONDS. Exits non-zero when the build fails or the fuzzer finds a crash, a
# sanitizer report, a leak or a timeout; the input that did it is saved next to the binary.
set -euo pipefail

seconds=${1:?usage: run-fuzz.sh SECONDS}
case $seconds in '' | *[!0-9]*) echo "run-fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${EXPORT_BUILD_DIR:-$root/build}/fuzz
mkdir -p "$out"
out=$(cd "$out" && pwd)

cxx=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$cxx" ]; then
  echo "run-fuzz.sh: clang++ (or clang++-14) is needed for -fsanitize=fuzzer" >&2
  exit 2
fi

echo "run-fuzz.sh: building $out/criteria_fuzz with $cxx"
"$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -DSQLITE_CORE -DFMT_HEADER_ONLY -I "$root/ext" \
  "$root/ext/criteria.cpp" "$root/ext/util.cpp" "$root/ext/errors.cpp" "$root/ext/options.cpp" \
  "$root/ext/db.cpp" "$root/ext/compress.cpp" "$root/ext/schedule.cpp" "$here/criteria_fuzz.cpp" \
  -lsqlite3 -ldeflate -lzstd -o "$out/criteria_fuzz"

# A fresh scratch corpus from the seeds; what the fuzzer adds stays out of the repository.
rm -rf "$out/corpus"
mkdir -p "$out/corpus"
cp "$here"/corpus/* "$out/corpus/"

# The words of the criteria language, so mutations reach deep shapes quickly.
cat >"$out/criteria.dict" <<'EOF'
"\"attribute\""
"\"operator\""
"\"value\""
"\"logical\""
"\"items\""
"\"date_from_utc\""
"\"date_to_utc\""
"\"AND\""
"\"OR\""
"\"IS_EQUAL_TO\""
"\"IS_NOT_EQUAL_TO\""
"\"IS_GREATER_THAN\""
"\"IS_GREATER_THAN_OR_EQUAL_TO\""
"\"IS_LESS_THAN\""
"\"IS_LESS_THAN_OR_EQUAL_TO\""
"\"IS_BEFORE\""
"\"IS_AFTER\""
"\"IS_BETWEEN\""
"\"IS_IN\""
"\"IS_NOT_IN\""
"\"CONTAINS\""
"\"DOES_NOT_CONTAIN\""
"\"STARTS_WITH\""
"\"DOES_NOT_START_WITH\""
"\"ENDS_WITH\""
"\"IS_EMPTY\""
"\"IS_NOT_EMPTY\""
"\"id\""
"\"name\""
"\"qty\""
"\"price\""
"\"created_at\""
"\"we\\\"ird?\""
"\"2026-04-01T00:00:00Z\""
"{\"attribute\":\"id\",\"operator\":\"IS_EMPTY\"}"
"{\"attribute\":\"qty\",\"operator\":\"IS_EQUAL_TO\",\"value\":1}"
"{\"attribute\":\"name\",\"operator\":\"CONTAINS\",\"value\":\"a\"}"
"{\"attribute\":\"price\",\"operator\":\"IS_IN\",\"value\":[1,null]}"
"{\"logical\":\"OR\",\"items\":["
"{\"logical\":\"AND\",\"items\":["
"{\"date_from_utc\":\"2026-04-01\"}"
",\"OR\","
",\"AND\","
"\"2026-04-30\""
"null"
"true"
"false"
"[]"
"{}"
"[["
"]]"
"\\u0000"
"'"
"?"
"%"
"_"
"\\\\"
EOF

echo "run-fuzz.sh: fuzzing for $seconds s (corpus $out/corpus)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$out"
if ! ./criteria_fuzz -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -dict="$out/criteria.dict" -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus"; then
  echo "run-fuzz.sh: the fuzzer found a problem; the input is in $out (crash-*, leak-*, timeout-*)" >&2
  exit 1
fi
echo "run-fuzz.sh: no problem found in $seconds s"
