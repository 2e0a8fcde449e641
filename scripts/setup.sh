#!/usr/bin/env bash
# Installs what sqlite-export needs to build and test, from Debian's packages, when missing.
# Runs as root on a fresh Debian bookworm machine; runs `apt-get update` once, only if needed.
set -euo pipefail
packages=(build-essential cmake pkg-config libsqlite3-dev sqlite3 libfmt-dev catch2 nlohmann-json3-dev
          zlib1g-dev libdeflate-dev libzstd-dev zstd pigz libssl-dev python3 clang libclang-rt-14-dev gzip coreutils procps file binutils
          dpkg-dev debian-archive-keyring libminizip-dev python3-openpyxl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# libxlsxwriter (format xlsx) is built from Debian's source package: scripts/fetch-libxlsxwriter.sh.
bash "$(dirname "${BASH_SOURCE[0]}")/fetch-libxlsxwriter.sh"
# With --tests (scripts/test.sh): DuckDB, from the npm registry (@duckdb/node-api, pinned in
# bench/package.json), a reader of the exported files in the tests (tests/readers/duckdb_read.mjs)
# and a peer in the benchmark. Node.js and npm come from Debian when the machine has none.
[ "${1:-}" = "--tests" ] || exit 0
# LibreOffice (large: tests only) reads the xlsx exports back in tests/python/test_xlsx.py. If it
# cannot be installed, that one check says so and is skipped; everything else still runs.
if ! dpkg-query -W -f='${Status}' libreoffice-calc-nogui 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: installing libreoffice-calc-nogui"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui ||
    echo "setup: WARNING: libreoffice-calc-nogui could not be installed; test_xlsx skips its LibreOffice check"
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../bench" && pwd)
if [ ! -f "$bench_dir/node_modules/@duckdb/node-api/package.json" ]; then
  echo "setup: installing @duckdb/node-api into bench/node_modules"
  (cd "$bench_dir" && npm install --no-audit --no-fund --loglevel=error)
fi
