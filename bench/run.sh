#!/usr/bin/env bash
# bench/run.sh: the benchmark of sqlite-export against the alternatives, in one command.
#
#   bash bench/run.sh [--rows N] [--reps K] [--smoke]
#
#     --rows N   rows in the `orders` table (default 2,000,000, about 175 MB of CSV)
#     --reps K   repetitions of each case (default 5); medians are reported
#     --smoke    20,000 rows, 1 repetition, 200 latency calls, 1-second commit-rate windows:
#                checks that every case works (CI runs this, in well under a minute); it fails
#                (exit status 1) when a case errors or writes a wrong number of rows, never
#                because of a time. Full runs exit 1 on such errors too.
#
# What it does:
#   1. builds build/export.so with CMake if it is missing, and bench/scan_floor.cpp with g++;
#   2. generates the data with ../shared/bench/make-orders-db.sh (beside the repository), or
#      with bench/make-orders-db.sh, a copy kept for clean clones (CI); databases are reused
#      while the row count and the generator stay the same;
#   3. installs @duckdb/node-api into bench/node_modules with npm when node and npm exist
#      (case 5 is skipped with a note otherwise);
#   4. runs bench/bench.py, which measures, alternating the cases in every repetition:
#        (1) sqlite3 -csv DB 'SELECT * FROM orders' > FILE
#        (2) the scan floor: step the same query and read every column, write nothing
#        (3) the extension with one worker: a fresh sqlite3 process, export_run + export_wait
#        (4) the extension on both cores: the same after export_config('parallel', 2)
#            ("case 4: not available in this build" when that setting is unknown)
#        (5) DuckDB's COPY orders TO 'x.csv' from its own table, 2 threads
#      with wall time, CPU time (user + sys) and peak RSS of each process, and ratios to (1)
#      and (2); then export_run latency (p50/p99 of 1,000 calls while a large export runs),
#      the exporting process's peak RSS at N/10 and N rows, and an application's WAL commit
#      rate while an export runs as a fraction of the rate without one.
#   5. prints a Markdown table and writes it to bench/results.md (with the machine).
#
# The module measured is a copy of build/export.so taken at the start (bench/data/export.so),
# so a rebuild during the run changes nothing. Data, outputs and helper binaries live in bench/data/ (ignored by git, like
# bench/node_modules/ and bench/package-lock.json). Needs: sqlite3, g++, libsqlite3-dev,
# cmake (to build the module), Debian's /usr/bin/python3 (its sqlite3 module loads
# extensions); node + npm only for case 5. /usr/bin/time, when present, gives exact peak RSS
# figures (bench/measure.py explains why).
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
rows=2000000
reps=5
smoke=0
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=${2:?--rows needs a number}; shift 2 ;;
    --reps) reps=${2:?--reps needs a number}; shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (usage: bash bench/run.sh [--rows N] [--reps K] [--smoke])" >&2; exit 2 ;;
  esac
done
if [ "$smoke" = 1 ]; then rows=20000; reps=1; fi
if ! [[ $rows =~ ^[0-9]+$ ]] || [ "$rows" -lt 1000 ]; then echo "run.sh: --rows must be a number >= 1000" >&2; exit 2; fi
if ! [[ $reps =~ ^[0-9]+$ ]] || [ "$reps" -lt 1 ]; then echo "run.sh: --reps must be a number >= 1" >&2; exit 2; fi
small_rows=$((rows / 10))
t0=$(date +%s)

data=$bench/data
mkdir -p "$data"
py=/usr/bin/python3
[ -x "$py" ] || { echo "run.sh: needs Debian's /usr/bin/python3 (its sqlite3 module can load extensions)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "run.sh: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }

# 1. The module and the scan floor.
module=$repo/build/export.so
if [ ! -f "$module" ]; then
  echo "run.sh: building $module"
  cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$repo/build" -j"$(nproc)" --target export
fi
# Other work may rebuild build/export.so while the benchmark runs: measure a snapshot of it.
snapshot_module() {
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if cp "$module" "$data/export.so.tmp" 2>/dev/null &&
       sqlite3 -batch -cmd ".load $data/export.so.tmp" :memory: "SELECT export_version();" >/dev/null 2>&1; then
      mv "$data/export.so.tmp" "$data/export.so"
      return 0
    fi
    sleep 3  # being relinked: try again
  done
  echo "run.sh: cannot load $module" >&2
  return 1
}
snapshot_module
scan_floor=$data/scan_floor
if [ ! -x "$scan_floor" ] || [ "$bench/scan_floor.cpp" -nt "$scan_floor" ]; then
  g++ -O2 -std=c++20 -Wall -Wextra -o "$scan_floor" "$bench/scan_floor.cpp" -lsqlite3
fi

# Exact peak RSS figures need /usr/bin/time (bench/measure.py); install it when we may.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 ||
    echo "run.sh: could not install package 'time'; peak RSS figures below ~12 MiB are upper bounds"
fi

# 2. The data: reused while the row count and the generator are the same.
gen=$repo/../shared/bench/make-orders-db.sh
if [ -f "$gen" ]; then
  if ! diff -q <(tail -n +2 "$gen") <(tail -n +6 "$bench/make-orders-db.sh") >/dev/null; then
    echo "run.sh: note: bench/make-orders-db.sh differs from $gen; refresh the copy"
  fi
else
  gen=$bench/make-orders-db.sh
fi
gen_sum=$(tail -n +2 "$gen" | sed '/^# /d' | sha256sum | cut -c1-16)
make_db() {  # make_db DB ROWS: (re)generate DB unless its stamp matches
  local db=$1 n=$2 stamp="rows=$2 generator=$gen_sum"
  if [ -f "$db" ] && [ -f "$db.stamp" ] && [ "$(cat "$db.stamp")" = "$stamp" ]; then return; fi
  rm -f "$db.stamp"
  rm -rf "$db-exports"
  bash "$gen" "$db" "$n" >/dev/null
  echo "$stamp" > "$db.stamp"
  echo "run.sh: generated $db ($n rows)"
}
db=$data/orders-$rows.db
small_db=$data/orders-$small_rows.db
make_db "$db" "$rows"
make_db "$small_db" "$small_rows"

# 3. DuckDB through node (case 5).
duck=()
duck_note=""
if [ -d "$bench/node_modules/@duckdb/node-api" ]; then
  duck=(--duckdb)
elif command -v node >/dev/null && command -v npm >/dev/null; then
  echo "run.sh: npm install @duckdb/node-api (bench/node_modules)"
  if (cd "$bench" && timeout 300 npm install --no-audit --no-fund --loglevel=error >"$data/npm.log" 2>&1); then
    duck=(--duckdb)
  else
    duck_note="npm install @duckdb/node-api failed (see bench/data/npm.log)"
  fi
else
  duck_note="node and npm are not installed"
fi

# 4-5. Measure and report.
smoke_arg=()
[ "$smoke" = 1 ] && smoke_arg=(--smoke)
status=0
"$py" "$bench/bench.py" --repo "$repo" --bench-dir "$bench" --data "$data" \
  --db "$db" --rows "$rows" --small-db "$small_db" --small-rows "$small_rows" --db-stamp "$(cat "$db.stamp")" \
  --reps "$reps" "${smoke_arg[@]}" --module "$data/export.so" --scan-floor "$scan_floor" \
  "${duck[@]}" --duckdb-note "$duck_note" || status=$?
echo "run.sh: finished in $(( $(date +%s) - t0 )) s with exit status $status"
exit $status
