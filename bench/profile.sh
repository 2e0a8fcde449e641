#!/usr/bin/env bash
# bench/profile.sh: where the time of case 3 (one worker) goes: top functions by self cost.
#
#   bash bench/profile.sh [--rows N] [--tool perf|callgrind|both]
#
#   perf       `perf record -e cpu-clock -g` of the sqlite3 process that runs one export of N
#              rows (default 2,000,000), every thread; needs `perf` that can sample (hardware
#              counters are not needed: cpu-clock is a software event)
#   callgrind  `valgrind --tool=callgrind` of the same command on N/20 rows (min 100,000):
#              instruction counts, steady on a noisy machine
#   both       (default) perf when it works, and callgrind when valgrind is installed
#
# Uses bench/data/ like bench/run.sh (databases are shared with it) and the module snapshot
# bench/data/export.so when present, else build/export.so. Prints the top 15 functions of each.
set -euo pipefail
bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
rows=2000000
tool=both
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    *) echo "profile.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
data=$bench/data
mkdir -p "$data/profile-out"
module=$data/export.so
[ -f "$module" ] || module=$repo/build/export.so
stem=${module%.so}
gen=$repo/../shared/bench/make-orders-db.sh
[ -f "$gen" ] || gen=$bench/make-orders-db.sh

db_for() {  # db_for N: a database of N rows holding the definition profile_orders
  local n=$1 db=$data/profile-$1.db
  if [ ! -f "$db" ]; then bash "$gen" "$db" "$n" >/dev/null; fi
  sqlite3 -batch -cmd ".load $stem" "$db" "SELECT export_config('workers', 0);
    INSERT INTO exports(name, source) SELECT 'profile_orders', 'orders'
      WHERE NOT EXISTS (SELECT 1 FROM exports WHERE name = 'profile_orders');" >/dev/null
  echo "$db"
}
export_sql="SELECT export_config('output_dir', '$data/profile-out'); SELECT export_config('workers', 1);
  SELECT export_wait(export_run('profile_orders', '[]'));"
clean() {  # clean DB: delete the profile runs and their files
  sqlite3 -batch -cmd ".load $stem" "$1" "SELECT export_config('workers', 0);
    SELECT export_config('output_dir', '$data/profile-out');
    DELETE FROM export_runs WHERE export_name = 'profile_orders';" >/dev/null
}

if [ "$tool" = perf ] || [ "$tool" = both ]; then
  if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$data/perf-probe.data" true >/dev/null 2>&1; then
    db=$(db_for "$rows")
    cat "$db" >/dev/null
    echo "== perf: one export of $rows rows (cpu-clock samples, all threads; self time)"
    perf record -q -e cpu-clock -F 999 -g -o "$data/perf.data" -- \
      sqlite3 -batch -cmd ".load $stem" "$db" "$export_sql" >/dev/null 2>&1
    clean "$db"
    perf report -i "$data/perf.data" --no-children --sort symbol,dso --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -15 || true  # head closes the pipe early
    echo "-- by library:"
    perf report -i "$data/perf.data" --no-children --sort dso --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -8 || true
  else
    echo "== perf: not available here (perf record -e cpu-clock failed)"
  fi
  rm -f "$data/perf-probe.data"
fi

if [ "$tool" = callgrind ] || [ "$tool" = both ]; then
  if command -v valgrind >/dev/null; then
    n=$((rows / 20)); [ "$n" -ge 100000 ] || n=100000
    db=$(db_for "$n")
    echo "== callgrind: one export of $n rows (instructions, all threads; self cost)"
    valgrind --tool=callgrind --callgrind-out-file="$data/callgrind.out" \
      sqlite3 -batch -cmd ".load $stem" "$db" "$export_sql" >/dev/null 2>"$data/callgrind.log"
    clean "$db"
    callgrind_annotate --inclusive=no "$data/callgrind.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -15 || true
  else
    echo "== callgrind: valgrind is not installed"
  fi
fi
