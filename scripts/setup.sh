#!/usr/bin/env bash
# Installs what sqlite-export needs to build and test, from Debian's packages, when missing.
# Runs as root on a fresh Debian bookworm machine; runs `apt-get update` once, only if needed.
set -euo pipefail
packages=(build-essential cmake pkg-config libsqlite3-dev sqlite3 libfmt-dev catch2 nlohmann-json3-dev
          zlib1g-dev libdeflate-dev libzstd-dev zstd pigz libssl-dev python3 clang libclang-rt-14-dev gzip coreutils procps file binutils)
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
