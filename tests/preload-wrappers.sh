# Sourced by test scripts: when the module is built with a sanitizer, the sanitizer's runtime
# must be preloaded into the program that loads it (sqlite3, python3) -- but not into bash,
# which TSan's runtime crashes. So `sqlite3` and `python3` on the PATH become small wrappers
# that preload it for that program only.
if [ -n "${EXPORT_PRELOAD:-}" ]; then
  _wrap=$(mktemp -d)
  for _prog in sqlite3 python3; do
    _real=$(command -v "$_prog" || true)
    [ "$_prog" = python3 ] && _real=${EXPORT_PYTHON:-/usr/bin/python3}
    [ -n "$_real" ] || continue
    printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "$EXPORT_PRELOAD" "$_real" > "$_wrap/$_prog"
    chmod +x "$_wrap/$_prog"
  done
  export PATH="$_wrap:$PATH"
  export EXPORT_SQLITE3="$_wrap/sqlite3" EXPORT_PYTHON="$_wrap/python3"
  unset _prog _real
fi
