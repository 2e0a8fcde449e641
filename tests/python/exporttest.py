"""Shared helpers for the Python tests of sqlite-export (tests/python/test_*.py).

Not a test itself (CTest runs only test_*.py). The tests import it from their own folder: Python
puts the running script's folder first on sys.path, whatever the working directory is.

Environment (set by CTest, see tests/CMakeLists.txt):
  EXPORT_MODULE_STEM  the module without .so, for Connection.load_extension
  EXPORT_SOURCE_DIR   the repository root
  EXPORT_SANITIZE     non-empty in sanitizer builds: tests use smaller sizes
"""
import base64
import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time

csv.field_size_limit(1 << 30)  # the edge tables hold a 1 MB text


def _preload_libstdcxx_for_asan():
    """ASan build: when libasan is preloaded into python3 (which does not link libstdc++), ASan
    cannot find the real __cxa_throw and aborts at the module's first C++ throw ("CHECK failed:
    asan_interceptors.cpp:320 ((__interception::real___cxa_throw)) != (0)"). Preloading libstdc++
    right after libasan fixes it; until tests/CMakeLists.txt's EXPORT_PRELOAD does so, re-run this
    script once with it added."""
    preload = os.environ.get("LD_PRELOAD", "")
    if "libasan" not in preload or "libstdc++" in preload or os.environ.get("EXPORT_TEST_REEXECED"):
        return
    env = dict(os.environ, LD_PRELOAD=preload + " libstdc++.so.6", EXPORT_TEST_REEXECED="1")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


_preload_libstdcxx_for_asan()

SOURCE_DIR = os.environ.get("EXPORT_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_STEM = os.environ.get("EXPORT_MODULE_STEM") or os.path.join(SOURCE_DIR, "build", "export")
SANITIZE = bool(os.environ.get("EXPORT_SANITIZE"))
# export_wait timeout: a hung run fails the test instead of hanging it. Sanitizer builds in CI
# run ten times slower than alone here while the other tests run beside them (a 14 s TSan test
# took 123 s there), so they wait longer.
WAIT_MS = 300000 if SANITIZE else 120000


def scaled(normal, sanitized):
    return sanitized if SANITIZE else normal


def connect(path, workers=None, output_dir=None, wal=True):
    """A connection with the extension loaded, in autocommit mode."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    db.enable_load_extension(True)
    db.load_extension(MODULE_STEM)
    db.enable_load_extension(False)
    if wal:
        db.execute("PRAGMA journal_mode = WAL")
    if output_dir is not None:
        db.execute("SELECT export_config('output_dir', ?)", (output_dir,))
    if workers is not None:
        db.execute("SELECT export_config('workers', ?)", (workers,))
    return db


def expect_error(db, sql, params, message):
    """sql fails with exactly message (SPEC 8's exact texts)."""
    try:
        db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        assert str(e) == message, f"{sql} {params}: error\n  {str(e)!r}, expected\n  {message!r}"
        return
    raise AssertionError(f"{sql} {params}: no error, expected {message!r}")


def scalar(db, sql, params=()):
    row = db.execute(sql, params).fetchone()
    return row[0] if row else None


def define(db, name, source, fmt="csv", options=None, columns=None, criteria=None):
    db.execute(
        "INSERT INTO exports(name, source, columns, criteria, format, options) VALUES (?, ?, ?, ?, ?, ?)",
        (name, source, None if columns is None else json.dumps(columns),
         None if criteria is None else json.dumps(criteria), fmt,
         None if options is None else json.dumps(options)))


def run_info(db, run_id):
    cur = db.execute("SELECT * FROM export_runs WHERE id = ?", (run_id,))
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, f"run {run_id} not found in export_runs"
    return dict(zip(names, row))


def files_of(db, run_id):
    cur = db.execute("SELECT * FROM export_files WHERE run_id = ? ORDER BY part", (run_id,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def run(db, name, criteria="[]", expect="COMPLETE"):
    """Start a run, wait for it, check its final status; returns the export_runs row."""
    run_id = scalar(db, "SELECT export_run(?, ?)", (name, criteria))
    status = scalar(db, "SELECT export_wait(?, ?)", (run_id, WAIT_MS))
    info = run_info(db, run_id)
    if expect is not None:
        assert status == expect, (f"run of '{name}' ended {status}, expected {expect}; "
                                  f"failure_reason={info['failure_reason']!r}")
    return info


def check_files(db, info, out_dir=None):
    """Checks every export_files row of a COMPLETE run against the disk; returns [(row, bytes)]."""
    files = files_of(db, info["id"])
    assert len(files) == info["file_count"], (info["file_count"], len(files))
    assert [f["part"] for f in files] == list(range(1, len(files) + 1)), [f["part"] for f in files]
    total_rows = total_bytes = 0
    out = []
    for f in files:
        with open(f["path"], "rb") as fh:
            data = fh.read()
        if out_dir is not None:
            assert os.path.dirname(f["path"]) == os.path.abspath(out_dir).rstrip("/"), (f["path"], out_dir)
        assert f["size_bytes"] == len(data) == os.path.getsize(f["path"]), (f["path"], f["size_bytes"], len(data))
        digest = hashlib.sha256(data).hexdigest()
        assert f["sha256"] == digest, f"{f['path']}: export_files.sha256 {f['sha256']} != sha256 of the file {digest}"
        total_rows += f["row_count"]
        total_bytes += f["size_bytes"]
        out.append((f, data))
    assert total_rows == info["rows_written"], f"sum of row_count {total_rows} != rows_written {info['rows_written']}"
    assert total_bytes == info["bytes_written"], f"sum of size_bytes {total_bytes} != bytes_written {info['bytes_written']}"
    return out


def leftovers(folder):
    """Temporary files (".<name>.<tag>.tmp") left in an output folder."""
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if n.startswith(".") or n.endswith(".tmp"))


# The environment for programs this project did not write (gzip, zstd, node): without the
# sanitizer runtime that sanitizer builds preload into the tests, which would report the
# programs' own threads (node's, for one) instead of the extension's.
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def zstd_decompress(path):
    """The content of a zstd file, through the `zstd` command (after `zstd -t`)."""
    tool = shutil.which("zstd")
    assert tool, "the zstd command is missing (scripts/setup.sh installs it)"
    r = subprocess.run([tool, "-q", "-t", path], capture_output=True, env=TOOL_ENV)
    assert r.returncode == 0, f"zstd -t {path} failed: {r.stderr}"
    r = subprocess.run([tool, "-q", "-dc", path], capture_output=True, env=TOOL_ENV)
    assert r.returncode == 0, f"zstd -dc {path} failed: {r.stderr}"
    return r.stdout


def gzip_test(path):
    """`gzip -t` on the file; Python's gzip module when the tool is missing."""
    tool = shutil.which("gzip")
    if tool:
        r = subprocess.run([tool, "-t", path], capture_output=True, text=True)
        assert r.returncode == 0, f"gzip -t {path} failed: {r.stderr}"
    else:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass


# ---- data --------------------------------------------------------------------------------------

ORDERS_SQL = """
CREATE TABLE orders(
  id INTEGER PRIMARY KEY,
  customer TEXT NOT NULL,
  status TEXT NOT NULL,
  total REAL,
  qty INTEGER,
  created_at TEXT NOT NULL,
  note TEXT,
  payload BLOB
);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_created_at ON orders(created_at);
"""


def _orders_rows(rows):
    """The rows of make-orders-db.sh, computed in Python (used when the script is missing)."""
    for i in range(1, rows + 1):
        if i % 1000 == 0:
            total = None
        elif i % 333 == 0:
            total = -(i * 1e15) / 3.0
        else:
            total = (i * 1.37) / 7.0
        qty = 9223372036854775807 - i if i % 5000 == 0 else i % 97
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1700000000 + i * 13))
        if i % 10 == 0:
            note = None
        elif i % 7 == 0:
            note = 'has "quotes", commas'
        elif i % 11 == 0:
            note = "two\nlines"
        elif i % 13 == 0:
            note = f"café ünïcödé 日本 {i}"
        elif i % 17 == 0:
            note = ""
        else:
            note = f"plain note {i}"
        if i % 50 == 0:
            payload = b"\x00\xff\x10\xfe"
        elif i % 70 == 0:
            payload = bytes(i % 7 + 1)
        elif i % 90 == 0:
            payload = f"blob text {i}".encode()
        else:
            payload = None
        status = ("paid", "open", "shipped", "void")[i % 4]
        yield (i, f"customer {i % 9973}", status, total, qty, created, note, payload)


def make_orders_db(path, rows):
    """The shared benchmark table `orders`: by ../shared/bench/make-orders-db.sh when the repository
    sits beside the shared folder (and EXPORT_TEST_NO_BENCH_SCRIPT is not set), else the same data
    generated here. Returns how it was made."""
    script = os.path.join(SOURCE_DIR, "..", "shared", "bench", "make-orders-db.sh")
    if os.path.isfile(script) and shutil.which("sqlite3") and not os.environ.get("EXPORT_TEST_NO_BENCH_SCRIPT"):
        # Without the sanitizer runtime: TSan's crashes bash (the script loads no module).
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        r = subprocess.run(["bash", script, path, str(rows)], capture_output=True, text=True, env=env)
        assert r.returncode == 0, f"{script} failed: {r.stderr}"
        return "make-orders-db.sh"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(ORDERS_SQL)
    db.execute("BEGIN")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _orders_rows(rows))
    db.execute("COMMIT")
    db.close()
    return "python generator"


def edge_values():
    """(kind, value) pairs of the values that break exporters; all valid UTF-8 for TEXT."""
    big = ("line, with \"quotes\"; and; semicolons\ttabs\r\nCRLF\rCR é日本🎉 " * 20000)[: 1 << 20]
    vals = [
        ("null", None),
        ("empty text", ""),
        ("space", " "),
        ("leading space", " lead"),
        ("trailing space", "trail "),
        ("both spaces", "  both  "),
        ("comma", "a,b"),
        ("semicolon", "a;b"),
        ("tab", "a\tb"),
        ("quote inside", 'say "hi"'),
        ("only quote", '"'),
        ("two quotes", '""'),
        ("CR", "a\rb"),
        ("LF", "a\nb"),
        ("CRLF", "a\r\nb"),
        ("only CRLF", "\r\n"),
        ("ends with LF", "end\n"),
        ("text NULL", "NULL"),
        ("text null", "null"),
        ("text \\N", "\\N"),
        ("non-ASCII", "café ünïcödé 日本 Ω ß"),
        ("astral", "emoji \U0001F600 \U00010348"),
        ("text NUL", "a\x00b"),
        ("control chars", "\x01\x02\x1f\x7f\b\f"),
        ("backslash", "back\\slash \\n"),
        ("formula =", "=1+2"),
        ("formula +", "+1"),
        ("formula -", "-1"),
        ("formula @", "@SUM(A1)"),
        ("formula tab", "\tx"),
        ("formula CR", "\rx"),
        ("apostrophe", "'quoted'"),
        ("numeric text", "123"),
        ("real text", "1.5"),
        ("json-like", '{"a": [1, 2]}'),
        ("1 MB text", big),
        ("int 0", 0),
        ("int 1", 1),
        ("int -1", -1),
        ("int max", 2 ** 63 - 1),
        ("int min", -2 ** 63),
        ("int 2^53+1", 2 ** 53 + 1),
        ("int -10^18", -10 ** 18),
        ("real -0.0", -0.0),
        ("real 0.0", 0.0),
        ("real 1e308", 1e308),
        ("real -1e308", -1e308),
        ("real max", 1.7976931348623157e308),
        ("real 5e-324", 5e-324),
        ("real -5e-324", -5e-324),
        ("real min normal", 2.2250738585072014e-308),
        ("real 0.1", 0.1),
        ("real 0.1+0.2", 0.1 + 0.2),
        ("real 1/3", 1 / 3),
        ("real -2/3", -2 / 3),
        ("real 2.0", 2.0),
        ("real -2.5", -2.5),
        ("real 1e16", 1e16),
        ("real 1e15+0.3", 1e15 + 0.3),
        ("real 2^53", 2.0 ** 53),
        ("real 2^63", 2.0 ** 63),
        ("real 1e21", 1e21),
        ("real 1e-7", 1e-7),
        ("real 17 digits", 1234567890.1234567),
        ("real 17 digits small", 0.12345678901234568),
        ("real pi", math.pi),
        ("real inf", math.inf),
        ("real -inf", -math.inf),
        ("blob empty", b""),
        ("blob NUL", b"\x00"),
        ("blob embedded NUL", b"ab\x00cd\x00"),
        ("blob bytes", bytes(range(256))),
        ("blob like text", b"=cmd|' /C calc'!A0"),
        ("blob 0xFF", b"\xff\xfe\xfd"),
        ("blob 100 KB", bytes((i * 7 + 3) % 256 for i in range(100000))),
    ]
    return vals


EDGE_COLUMN = 'v, "odd" é'  # a column name that itself needs quoting in a CSV header


def make_edge_table(db):
    """Table `edge`: one edge value per row in an untyped column (no affinity, so -0.0 stays -0.0),
    plus the same value again in a column whose name needs quoting."""
    odd = EDGE_COLUMN.replace('"', '""')
    db.execute(f'CREATE TABLE edge(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, v, "{odd}")')
    db.execute("BEGIN")
    for i, (kind, v) in enumerate(edge_values(), start=1):
        db.execute("INSERT INTO edge VALUES (?, ?, ?, ?)", (i, kind, v, v))
    db.execute("COMMIT")


# ---- parsing and comparing ---------------------------------------------------------------------

def parse_dsv(text, delim, line_ending):
    """Strict RFC 4180 parser that also reports quoting: a list of records, each a list of
    (value, quoted), and the end offset of each record. Every record must end with line_ending."""
    quoted_re = re.compile(r'"([^"]*(?:""[^"]*)*)"')
    plain_re = re.compile('[^%s"\r\n]*' % re.escape(delim))
    records, ends = [], []
    row = []
    pos, n = 0, len(text)
    while pos < n:
        if text[pos] == '"':
            m = quoted_re.match(text, pos)
            assert m, f"unterminated quoted field at offset {pos}: {text[pos:pos + 60]!r}"
            row.append((m.group(1).replace('""', '"'), True))
        else:
            m = plain_re.match(text, pos)
            row.append((m.group(0), False))
        pos = m.end()
        if text.startswith(delim, pos):
            pos += len(delim)
            if pos == n:
                raise AssertionError("file ends with a delimiter")
            continue
        assert text.startswith(line_ending, pos), (
            f"record {len(records) + 1}: expected delimiter or {line_ending!r} at offset {pos}, got {text[pos:pos + 40]!r}")
        pos += len(line_ending)
        records.append(row)
        ends.append(pos)
        row = []
    return records, ends


def csv_module_rows(text, delim):
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True))


def real_bits(x):
    return struct.pack("<d", x)


def check_real_text(text, expected):
    """A REAL written as text: reads back bit for bit, reads back as a REAL (has '.' or an exponent),
    and is about as short as Python's repr. Returns an error text or None."""
    if math.isinf(expected):
        want = "1e999" if expected > 0 else "-1e999"
        return None if text == want else f"{expected} written {text!r}, expected {want!r}"
    try:
        got = float(text)
    except ValueError:
        return f"REAL written as {text!r}, not a number"
    if real_bits(got) != real_bits(expected):
        return f"REAL {expected!r} written as {text!r}, which reads back as {got!r}"
    if not re.search(r"[.eE]", text):
        return f"REAL {expected!r} written as {text!r}: reads back as an INTEGER"
    # Shortest: no longer than Python's repr (itself the shortest round-trip digits) plus a ".0".
    # (Not the same digits: for 2**63 the plain "9223372036854775808.0" is as short as "9.223372036854776e+18".)
    if len(text) > len(repr(expected)) + 2:
        return f"REAL {expected!r} written as {text!r}: longer than the shortest round-trip text {repr(expected)!r}"
    return None


def decode_blob(text, encoding):
    if encoding == "base64":
        return base64.b64decode(text.encode("ascii"), validate=True)
    assert text == text.upper(), f"hex not uppercase: {text[:40]!r}"
    return bytes.fromhex(text)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def forced(opts, column):
    fq = opts.get("force_quote", False)
    if fq is True:
        return True
    return isinstance(fq, list) and column.lower() in [c.lower() for c in fq]


def check_dsv_field(value, quoted, expected, opts, column, where):
    """One csv/tsv field against the value SQLite returns. Returns an error text or None."""
    null_text = opts.get("null", "")
    force = forced(opts, column)
    if expected is None:
        if quoted or value != null_text:
            return f"{where}: NULL written as {value!r} (quoted={quoted}), expected unquoted {null_text!r}"
        return None
    if not quoted and value == null_text:
        return f"{where}: {expected!r} written as the NULL text {value!r} without quotes"
    if force and not quoted:
        return f"{where}: force_quote but {value!r} is not quoted"
    if isinstance(expected, bool) or isinstance(expected, int):
        return None if value == str(expected) else f"{where}: INTEGER {expected} written as {value!r}"
    if isinstance(expected, float):
        err = check_real_text(value, expected)
        return f"{where}: {err}" if err else None
    if isinstance(expected, str):
        want = expected
        if opts.get("formula_escape") and expected.startswith(FORMULA_STARTS):
            want = "'" + expected
        if value != want:
            return f"{where}: TEXT {expected[:60]!r} written as {value[:60]!r} (len {len(expected)} vs {len(value)})"
        if expected == "" and not quoted:
            return f"{where}: empty TEXT not quoted (reads back as NULL)"
        return None
    if isinstance(expected, bytes):
        try:
            got = decode_blob(value, opts.get("blob", "hex"))
        except (ValueError, AssertionError) as e:
            return f"{where}: BLOB written as {value[:40]!r}: {e}"
        return None if got == expected else f"{where}: BLOB {expected[:20]!r} decodes as {got[:20]!r}"
    return f"{where}: unexpected Python type {type(expected)}"


def check_json_value(got, expected, opts, where):
    if expected is None:
        return None if got is None else f"{where}: NULL written as {got!r}"
    if isinstance(expected, int):
        return None if type(got) is int and got == expected else f"{where}: INTEGER {expected} read back as {got!r}"
    if isinstance(expected, float):
        if type(got) is not float:
            return f"{where}: REAL {expected!r} read back as {type(got).__name__} {got!r}"
        return None if real_bits(got) == real_bits(expected) else f"{where}: REAL {expected!r} read back as {got!r}"
    if isinstance(expected, str):
        return None if got == expected else f"{where}: TEXT {expected[:60]!r} read back as {str(got)[:60]!r}"
    if isinstance(expected, bytes):
        if type(got) is not str:
            return f"{where}: BLOB read back as {type(got).__name__}"
        try:
            dec = decode_blob(got, opts.get("blob", "hex"))
        except (ValueError, AssertionError) as e:
            return f"{where}: BLOB written as {got[:40]!r}: {e}"
        return None if dec == expected else f"{where}: BLOB {expected[:20]!r} decodes as {dec[:20]!r}"
    return f"{where}: unexpected Python type {type(expected)}"


def strip_bom(data, opts):
    if opts.get("bom"):
        assert data.startswith(b"\xef\xbb\xbf"), f"bom: file starts {data[:8]!r}"
        return data[3:]
    assert not data.startswith(b"\xef\xbb\xbf"), "unexpected BOM"
    return data


def dsv_records(data, fmt, opts):
    """Parses one csv/tsv file's bytes (with both parsers, which must agree): (header, records,
    ends) where records are lists of (value, quoted)."""
    delim = opts.get("delimiter", "\t" if fmt == "tsv" else ",")
    line_ending = opts.get("line_ending", "\n")
    text = strip_bom(data, opts).decode("utf-8", "surrogateescape")
    records, ends = parse_dsv(text, delim, line_ending)
    via_csv = csv_module_rows(text, delim)
    mine = [[v for v, _ in r] for r in records]
    if via_csv != mine:
        for i, (a, b) in enumerate(zip(via_csv, mine)):
            if a != b:
                raise AssertionError(f"csv module and strict parser disagree at record {i + 1}: {a!r:.200} vs {b!r:.200}")
        raise AssertionError(f"csv module read {len(via_csv)} records, strict parser {len(mine)}")
    header = None
    if opts.get("header", True):
        assert records, "no header line"
        header = records.pop(0)
    return header, records, ends


def compare_dsv(data, fmt, opts, columns, expected_rows, label):
    """Re-imports one csv/tsv export and compares every value; raises AssertionError."""
    header, records, _ = dsv_records(data, fmt, opts)
    if header is not None:
        names = [v for v, _ in header]
        assert names == columns, f"{label}: header {names} != columns {columns}"
        for (name, q) in header:
            if forced(opts, name):
                assert q, f"{label}: force_quote applies to column {name!r} but its header is not quoted"
    assert len(records) == len(expected_rows), f"{label}: {len(records)} records, expected {len(expected_rows)}"
    errors = []
    for r, (rec, exp) in enumerate(zip(records, expected_rows), start=1):
        if len(rec) != len(exp):
            errors.append(f"{label} row {r}: {len(rec)} fields, expected {len(exp)}: {rec!r:.200}")
            continue
        for c, ((value, quoted), e) in enumerate(zip(rec, exp)):
            err = check_dsv_field(value, quoted, e, opts, columns[c], f"{label} row {r} column {columns[c]!r}")
            if err:
                errors.append(err)
        if len(errors) > 10:
            break
    assert not errors, "\n".join(errors[:10])


def jsonl_objects(data, opts):
    line_ending = opts.get("line_ending", "\n")
    text = strip_bom(data, opts).decode("utf-8")  # JSON text must be valid UTF-8
    assert text == "" or text.endswith(line_ending), "last JSON line does not end with the line ending"
    lines = text.split(line_ending)[:-1] if text else []
    out = []
    for i, line in enumerate(lines, start=1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError(f"line {i} is not JSON ({e}): {line[:120]!r}")
    return out


def compare_jsonl(data, opts, columns, expected_rows, label):
    objs = jsonl_objects(data, opts)
    assert len(objs) == len(expected_rows), f"{label}: {len(objs)} lines, expected {len(expected_rows)}"
    errors = []
    for r, (obj, exp) in enumerate(zip(objs, expected_rows), start=1):
        if list(obj.keys()) != columns:
            errors.append(f"{label} row {r}: keys {list(obj.keys())} != {columns}")
            continue
        for c, e in zip(columns, exp):
            err = check_json_value(obj[c], e, opts, f"{label} row {r} column {c!r}")
            if err:
                errors.append(err)
        if len(errors) > 10:
            break
    assert not errors, "\n".join(errors[:10])


def compare_export(data, fmt, opts, columns, expected_rows, label):
    if fmt == "jsonl":
        compare_jsonl(data, opts, columns, expected_rows, label)
    else:
        compare_dsv(data, fmt, opts, columns, expected_rows, label)


class Timer:
    def __init__(self):
        self.start = time.monotonic()

    def __str__(self):
        return f"{time.monotonic() - self.start:.1f}s"


def main(tests):
    """Runs test functions in order, prints one line each, exits non-zero if any failed."""
    failed = 0
    t0 = time.monotonic()
    for fn in tests:
        t = time.monotonic()
        try:
            fn()
            print(f"ok    {fn.__name__} ({time.monotonic() - t:.1f}s)", flush=True)
        except SkipCase as s:
            print(f"skip  {fn.__name__}: {s}", flush=True)
        except Exception:
            failed += 1
            import traceback
            print(f"FAIL  {fn.__name__} ({time.monotonic() - t:.1f}s)", flush=True)
            traceback.print_exc()
            sys.stdout.flush()
    print(f"{len(tests) - failed}/{len(tests)} passed in {time.monotonic() - t0:.1f}s", flush=True)
    sys.exit(1 if failed else 0)


class SkipCase(Exception):
    """Raised to skip a case, e.g. 'KNOWN BUG: ...'."""
