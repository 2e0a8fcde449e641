#!/usr/bin/python3
"""Lossless output (SPEC 7, guarantee 6; issue "Output", done-when): every export re-imports to
the values SQLite returns.

Data:
  orders  the shared benchmark table (../shared/bench/make-orders-db.sh when present, else the same
          data generated in Python): quotes, commas, newlines, non-ASCII, NULLs, '' , blobs, huge
          integers, REALs that need 17 digits. 20,000 rows (2,000 under sanitizers).
  edge    one edge value per row in an untyped column (so -0.0 stays -0.0): +-0.0, 1e308, 5e-324,
          +-inf, 2**63-1, -2**63, '' vs NULL, blobs with NULs, CR, LF, CRLF, quotes, delimiters,
          leading/trailing spaces, non-ASCII, formula starts, a 1 MB text; the same value again in
          a column whose name needs quoting.
  badutf8 TEXT values that are not valid UTF-8.

Each table is exported as csv, tsv and jsonl with default options and with non-default ones (the
csv variant sets every option of SPEC 6 that changes the bytes). CSV/TSV are read back with
Python's csv module (newline='', the right delimiter) and, to tell NULL from '' (the csv module
cannot see quotes), with a strict RFC 4180 parser that must agree with it; JSONL with json.
Every value is compared with what sqlite3 returns: INTEGERs exactly, REALs bit for bit (and as
the shortest text, with '.' or an exponent so they read back as REALs), TEXT exactly, BLOBs
decoded from hex/base64, NULL vs '' distinguished.

The one known lossy case: JSON text must be valid UTF-8, so in JSONL a TEXT value holding invalid
UTF-8 has each maximal invalid subpart replaced by U+FFFD (the same as Python's
bytes.decode('utf-8', 'replace')). CSV/TSV write TEXT bytes unchanged, so they stay lossless even
then. test_invalid_utf8 checks both behaviours exactly. (formula_escape is lossy by design: it adds
a "'" before TEXT starting with = + - @ tab CR; the comparison expects exactly that prefix.)
"""
import json
import os
import tempfile

import exporttest as t

ROWS = t.scaled(20000, 2000)

# (format, options): defaults and non-default options. The full-options csv variant is the one the
# issue asks for; the others vary delimiter, null text, force_quote columns, blob, order and line ends.
FULL_CSV = {"header": True, "delimiter": ";", "null": "NULL", "force_quote": True, "line_ending": "\r\n",
            "blob": "base64", "bom": True, "formula_escape": True, "order_by": ["id"]}
VARIANTS = [
    ("csv", {}),
    ("tsv", {}),
    ("jsonl", {}),
    ("csv", FULL_CSV),
    ("csv", {"delimiter": "|", "null": "\\N", "force_quote": ["id", "<third column, upper case>"], "order_by": [{"column": "id", "desc": True}]}),
    ("tsv", {"header": False, "null": "NULL", "blob": "base64", "line_ending": "\r\n", "formula_escape": True}),
    ("jsonl", {"blob": "base64", "line_ending": "\r\n", "bom": True, "order_by": [{"column": "id", "desc": True}]}),
    # delimiters and null texts that collide with number text: fields holding them must be quoted
    ("csv", {"delimiter": ".", "null": "1"}),
    ("csv", {"delimiter": "-", "null": "=1+2", "formula_escape": True}),
]

folder = tempfile.mkdtemp(prefix="roundtrip-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "data.db")
OUT = os.path.join(folder, "out")
made_by = t.make_orders_db(DB_PATH, ROWS)
db = t.connect(DB_PATH, output_dir=OUT)
t.make_edge_table(db)
db.execute("CREATE TABLE badutf8(id INTEGER PRIMARY KEY, t TEXT)")
BAD = [b"ok \xc3\xa9", b"\xff", b"a\x80b", b"\xc3", b"trunc \xe6\x97", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80 too big",
       b"\xc0\xaf overlong", b"\xf0\x9f\x98 x", b"mixed \xe2\x82\xac \xfe \xe2\x82", b"quote\" \xff, comma"]
for i, b in enumerate(BAD, start=1):
    db.execute("INSERT INTO badutf8 VALUES (?, CAST(? AS TEXT))", (i, b))
counter = [0]


def columns_of(table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def expected_rows(table, columns, desc=False):
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return db.execute(f"SELECT {cols} FROM {table} ORDER BY id {'DESC' if desc else ''}").fetchall()


def export_one(table, fmt, opts):
    """Defines and runs an export of the whole table; returns the single file's bytes."""
    counter[0] += 1
    name = f"{table}_{fmt}_{counter[0]}"
    t.define(db, name, table, fmt, opts)
    info = t.run(db, name)
    files = t.check_files(db, info, OUT)
    assert len(files) == 1, f"{name}: {len(files)} files"
    row, data = files[0]
    assert os.path.basename(row["path"]) == f"{name}-1.{fmt}", row["path"]
    assert row["format"] == fmt and row["compression"] == "none", row
    return info, data


def roundtrip_table(table):
    columns = columns_of(table)
    for fmt, opts in VARIANTS:
        if "force_quote" in opts and isinstance(opts["force_quote"], list):  # column names match ignoring case
            opts = dict(opts, force_quote=["id", columns[2].upper()])
        desc = any(isinstance(o, dict) and o.get("desc") for o in opts.get("order_by", []))
        exp = expected_rows(table, columns, desc)
        info, data = export_one(table, fmt, opts)
        assert info["rows_written"] == len(exp), (info["rows_written"], len(exp))
        t.compare_export(data, fmt, opts, columns, exp, f"{table} {fmt} {json.dumps(opts)}")


def test_orders():
    print(f"  orders: {ROWS} rows made by {made_by}")
    n = t.scalar(db, "SELECT count(*) FROM orders")
    assert n == ROWS, n
    # the data really holds what it is meant to exercise
    checks = [("NULL note", "note IS NULL"), ("'' note", "note = ''"), ("newline", "note LIKE '%' || char(10) || '%'"),
              ("quote", "note LIKE '%\"%'"), ("blob", "typeof(payload) = 'blob'"), ("negative real", "total < 0")]
    if ROWS >= 5000:  # the first huge qty is row 5000 (the edge table has huge integers anyway)
        checks.append(("huge int", "qty > 1e18"))
    for what, sql in checks:
        assert t.scalar(db, f"SELECT count(*) FROM orders WHERE {sql}") > 0, f"orders has no {what}"
    roundtrip_table("orders")


def test_edge_values():
    # what SQLite returns is the reference: check that the untyped column kept the interesting values
    got = dict(db.execute("SELECT kind, v FROM edge").fetchall())
    assert t.real_bits(got["real -0.0"]) == t.real_bits(-0.0), got["real -0.0"]
    assert got["int min"] == -2 ** 63 and got["int max"] == 2 ** 63 - 1
    assert got["real 5e-324"] == 5e-324 and got["real inf"] == float("inf")
    assert got["text NUL"] == "a\x00b", repr(got["text NUL"])
    assert got["blob embedded NUL"] == b"ab\x00cd\x00"
    assert len(got["1 MB text"]) == 1 << 20
    roundtrip_table("edge")


def test_specific_bytes():
    """A few exact renderings the comparison above cannot see (it accepts any correct spelling)."""
    t.define(db, "edge_exact", "SELECT kind, v FROM edge WHERE kind IN ('null', 'empty text', 'real -0.0', 'real 2.0', "
                               "'real inf', 'real -inf', 'int min', 'blob embedded NUL', 'blob empty', 'leading space') ORDER BY kind",
             "csv", {"header": False})
    _, files = run_files("edge_exact")
    lines = files[0].decode().split("\n")
    want = {"null": "null,", "empty text": 'empty text,""', "real -0.0": "real -0.0,-0.0", "real 2.0": "real 2.0,2.0",
            "real inf": "real inf,1e999", "real -inf": "real -inf,-1e999", "int min": "int min,-9223372036854775808",
            "blob embedded NUL": "blob embedded NUL,616200636400", "blob empty": 'blob empty,""',
            "leading space": 'leading space," lead"'}
    assert sorted(lines[:-1]) == sorted(want.values()), lines
    assert lines[-1] == ""


def run_files(name):
    info = t.run(db, name)
    return info, [data for _, data in t.check_files(db, info, OUT)]


def test_invalid_utf8():
    # CSV and TSV: TEXT bytes unchanged, so even invalid UTF-8 round-trips.
    raw = dict(db.execute("SELECT id, CAST(t AS BLOB) FROM badutf8").fetchall())
    t.define(db, "bad_csv", "badutf8", "csv", {"header": False})
    _, (data,) = run_files("bad_csv")
    records, _ = t.parse_dsv(data.decode("utf-8", "surrogateescape"), ",", "\n")
    assert len(records) == len(BAD), len(records)
    for rec in records:
        i = int(rec[0][0])
        assert rec[1][0].encode("utf-8", "surrogateescape") == raw[i], (i, rec[1][0], raw[i])
    # JSONL: the one lossy case. Each maximal invalid subpart becomes U+FFFD; valid text is unchanged.
    t.define(db, "bad_jsonl", "badutf8", "jsonl")
    _, (data,) = run_files("bad_jsonl")
    text = data.decode("utf-8")  # must be valid UTF-8 now
    objs = [json.loads(line) for line in text.splitlines()]
    assert len(objs) == len(BAD)
    for o in objs:
        want = raw[o["id"]].decode("utf-8", "replace")
        assert o["t"] == want, f"id {o['id']}: {o['t']!r} != {want!r}"


def test_zero_rows_and_empty_table():
    db.execute("CREATE TABLE empty(id INTEGER PRIMARY KEY, a TEXT)")
    for fmt, opts, want in [("csv", {}, b"id,a\n"), ("tsv", {"bom": True}, b"\xef\xbb\xbfid\ta\n"), ("jsonl", {}, b""),
                            ("csv", {"header": False}, b"")]:
        counter[0] += 1
        name = f"empty_{counter[0]}"
        t.define(db, name, "empty", fmt, opts)
        info, files = run_files(name)
        assert info["rows_written"] == 0 and files == [want], (fmt, opts, files)


t.main([test_orders, test_edge_values, test_specific_bytes, test_invalid_utf8, test_zero_rows_and_empty_table])
