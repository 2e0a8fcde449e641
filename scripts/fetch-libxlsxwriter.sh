#!/usr/bin/env bash
# Fetches Debian's source package of libxlsxwriter into .deps/libxlsxwriter (once), for CMake to
# build it with USE_DTOA_LIBRARY (see CMakeLists.txt and docs/REFERENCE.md "Format xlsx").
#
# Why not Debian's binary package: libxlsxwriter as Debian builds it writes numbers with
# printf("%.16G"), 16 significant digits, so a REAL that needs 17 (0.30000000000000004) would read
# back changed. The library's own build option USE_DTOA_LIBRARY writes the shortest digits that
# read back as the same double (Milo Yip's Grisu2, bundled in its source). The source is Debian's,
# as Debian ships it (apt-get source: signed Release file, checked checksums; Debian's own patch
# series, empty for bookworm's 1.1.4-2); the project adds no patch (CMakeLists.txt maps three of
# its calls to ext/xlsx_hooks.cpp with -D at compile time).
#
# It uses a private source list and package lists (under a temporary folder): the machine's apt
# configuration is left as it is. Run by scripts/setup.sh; it writes only inside the repository
# and the temporary folder (no root needed once dpkg-dev is installed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.deps/libxlsxwriter"
[ -f "$dest/include/xlsxwriter.h" ] && [ -f "$dest/third_party/dtoa/emyg_dtoa.c" ] && exit 0

codename=bookworm
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  codename=${VERSION_CODENAME:-bookworm}
fi
mirror=${EXPORT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if ! command -v dpkg-source >/dev/null 2>&1; then
  echo "setup: apt-get source needs dpkg-source: install dpkg-dev (scripts/setup.sh does)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
cat >"$work/sources/debian-src.sources" <<EOF
Types: deb-src
URIs: $mirror
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root -qq)
echo "setup: fetching Debian's source of libxlsxwriter ($codename) into .deps/libxlsxwriter"
apt-get "${apt_opts[@]}" update
(cd "$work/src" && apt-get "${apt_opts[@]}" source libxlsxwriter >/dev/null)
unpacked=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'libxlsxwriter-*' | head -n 1)
if [ -z "$unpacked" ] || [ ! -f "$unpacked/third_party/dtoa/emyg_dtoa.c" ]; then
  echo "setup: Debian's libxlsxwriter source has no third_party/dtoa/emyg_dtoa.c" >&2
  exit 1
fi
cp "$work"/src/*.dsc "$unpacked/"
mkdir -p "$root/.deps"
rm -rf "$dest.partial" "$dest"
mv "$unpacked" "$dest.partial"
mv "$dest.partial" "$dest"
