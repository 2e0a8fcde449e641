#!/usr/bin/python3
"""Spreadsheet exports (format xlsx, issue 18), read back by independent readers.

  - openpyxl (Debian's python3-openpyxl) reads every cell of the edge table's export and compares
    it with the table: INTEGERs up to 2^53 are numbers, larger ones text with every digit; REALs
    are numbers that read back as the same double, 17-digit ones included (libxlsxwriter built
    with USE_DTOA_LIBRARY; -0.0 reads as 0: a spreadsheet has no negative zero); infinities as
    the text 1e999 / -1e999; TEXT is text, never a formula (=1+2 stays text), newlines,
    control characters and non-ASCII kept, NUL as U+FFFD; NULL is an empty cell without a format,
    an empty TEXT an empty cell formatted as text ("@"); BLOBs are hex or base64 text. The header
    row is bold and frozen, with an autofilter over the data; column widths are set.
  - a text longer than a cell holds (32,767 characters) fails the run with a message naming the
    row and the column, and leaves no file;
  - a pivot export, every cell against the grouped query;
  - compression_level: the zip's deflate level (1 by default, 9 smaller, the same cells);
  - sheets: a full sheet continues on the next sheet of the same workbook, with the header again
    (SQLITE_EXPORT_TEST_XLSX_SHEET_ROWS makes sheets small), and file_max_rows makes parts;
  - export_files: size, SHA-256, row counts, export_download; no temporary file left;
  - an abort mid-way leaves no file;
  - guarantee 8 while the workbook is packed: an abort or a close ends the run within about a
    second (the packing, seconds of compression, is stopped), leaving no file and no open
    descriptor, and the closed connection's run is queued again (CREATED);
  - 3,000 random doubles read back bit for bit (17 significant digits where they need them);
  - LibreOffice (libreoffice-calc-nogui) converts an export to CSV headless, with the same values.
"""
import csv
import io
import json
import math
import os
import shutil
import subprocess
import tempfile

import exporttest as t

import openpyxl
from openpyxl.utils.escape import unescape

ROWS = t.scaled(6000, 1500)
SHEET_ROWS = t.scaled(2500, 600)  # header included: ROWS rows take three sheets

folder = tempfile.mkdtemp(prefix="xlsx-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "data.db")
OUT = os.path.join(folder, "out")
t.make_orders_db(DB_PATH, ROWS)
db = t.connect(DB_PATH, output_dir=OUT)
t.make_edge_table(db)
TOO_LONG = ["1 MB text", "blob 100 KB"]  # more than a cell holds


def export(name, source, opts=None, criteria="[]", columns=None, expect="COMPLETE", conn=None, out=OUT):
    conn = conn or db
    t.define(conn, name, source, "xlsx", opts, columns=columns)
    info = t.run(conn, name, criteria, expect=expect)
    if expect != "COMPLETE":
        return info, []
    files = t.check_files(conn, info, out)
    for f, data in files:
        assert f["format"] == "xlsx" and f["compression"] == "none", f
        assert f["path"].endswith(".xlsx"), f["path"]
        assert t.scalar(conn, "SELECT export_download(?)", (f["id"],)) == data, f"download of {f['path']} differs"
    assert t.leftovers(out) == [], f"temporary files left: {t.leftovers(out)}"
    return info, files


def check_cell(cell, e, blob, where):
    v = cell.value
    if e is None:
        assert v is None, f"{where}: NULL read as {v!r}"
        assert cell.number_format == "General", f"{where}: NULL cell has format {cell.number_format!r}"
        return
    if isinstance(e, bytes):
        e = e.hex().upper() if blob == "hex" else __import__("base64").b64encode(e).decode()
    if isinstance(e, str):
        if e == "":
            assert v is None and cell.number_format == "@", f"{where}: empty text read as {v!r} ({cell.number_format})"
            return
        assert cell.data_type in ("s", "inlineStr") or isinstance(v, str), f"{where}: {e[:40]!r} is not text: {v!r}"
        want = e.replace("\x00", "\ufffd")
        got = unescape(v)  # Excel's _xHHHH_ escapes of control characters (openpyxl leaves them)
        assert got == want, f"{where}: text {want[:60]!r} read as {got[:60]!r}"
        return
    if isinstance(e, int):
        if abs(e) <= 2 ** 53:
            assert isinstance(v, (int, float)) and not isinstance(v, bool) and v == e, f"{where}: {e} read as {v!r}"
        else:
            assert v == str(e), f"{where}: INTEGER {e} beyond 2^53 read as {v!r}, expected the text {str(e)!r}"
        return
    if isinstance(e, float):
        if math.isinf(e):
            assert v == ("1e999" if e > 0 else "-1e999"), f"{where}: {e} read as {v!r}"
            return
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{where}: REAL {e!r} read as {v!r}"
        # Every digit: the same double (0.30000000000000004 stays itself, 1.7976931348623157e308 too).
        assert v == e, f"{where}: REAL {e!r} read as {v!r}"
        if e == 0:
            assert math.copysign(1, v) == 1, f"{where}: {e!r} read as {v!r}, expected 0 (no negative zero)"
        return
    raise AssertionError(f"{where}: unexpected type {type(e)}")


def check_sheet(ws, columns, rows, blob="hex", header=True, label=""):
    """Every cell of a sheet (openpyxl, full mode) against rows; the header's looks."""
    first = 1
    if header:
        names = [c.value for c in ws[1]]
        assert names == columns, f"{label}: header {names} != {columns}"
        assert all(c.font.b for c in ws[1]), f"{label}: header not bold"
        assert ws.freeze_panes == "A2", f"{label}: freeze panes {ws.freeze_panes!r}"
        last_col = openpyxl.utils.get_column_letter(len(columns))
        assert ws.auto_filter.ref == f"A1:{last_col}{len(rows) + 1}", f"{label}: autofilter {ws.auto_filter.ref!r}"
        first = 2
    else:
        assert ws.freeze_panes is None and not ws.auto_filter.ref, label
    assert ws.max_row == len(rows) + first - 1 or (not rows and ws.max_row == first - 1 or ws.max_row == 1), \
        f"{label}: {ws.max_row} rows, expected {len(rows) + first - 1}"
    for c in range(1, len(columns) + 1):
        width = ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width
        assert width and 8 <= width <= 61, f"{label}: column {c} width {width}"
    for r, exp in enumerate(rows):
        cells = ws[r + first]
        for c, e in enumerate(exp):
            check_cell(cells[c] if c < len(cells) else ws.cell(r + first, c + 1), e, blob,
                       f"{label} row {r + 1} column {columns[c]!r}")


def edge_case(blob):
    cols = ["id", "kind", "v", t.EDGE_COLUMN]
    crit = json.dumps([{"attribute": "kind", "operator": "IS_NOT_IN", "value": TOO_LONG}])
    info, files = export(f"edge_{blob}", "edge", {"blob": blob}, crit)
    odd = '"' + t.EDGE_COLUMN.replace('"', '""') + '"'
    rows = db.execute(f"SELECT id, kind, v, {odd} FROM edge WHERE kind NOT IN (?, ?) ORDER BY id", TOO_LONG).fetchall()
    assert info["rows_written"] == len(rows), info
    (f, data), = files
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Sheet1"], wb.sheetnames
    check_sheet(wb["Sheet1"], cols, rows, blob, label=f"edge {blob}")
    # A formula-like text is a text cell: openpyxl would read a formula as "=..." with type "f".
    for row in wb["Sheet1"].iter_rows(min_row=2):
        assert row[2].data_type != "f", f"a formula cell: {row[2].value!r}"


def test_edge_values_hex():
    edge_case("hex")


def test_edge_values_base64():
    edge_case("base64")


def test_random_reals_read_back_exactly():
    """Doubles from random bit patterns (every exponent, 17-digit significands, subnormals): each
    cell reads back as the same double (bit for bit, but -0.0 as 0). Debian's libxlsxwriter as
    packaged (%.16G) changes about half of them, which is why it is built with its dtoa."""
    import random
    import struct
    rnd = random.Random(18)
    values = []
    while len(values) < 3000:
        v = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        if math.isfinite(v):
            values.append(v)
    values += [0.1 + 0.2, 2.0 ** -1074, 2.0 ** -1022, 1.7976931348623157e308, -1.7976931348623157e308, 1 / 3]
    db.execute("CREATE TABLE reals(id INTEGER PRIMARY KEY, v REAL)")
    db.executemany("INSERT INTO reals(v) VALUES (?)", [(v,) for v in values])
    db.commit()
    changed = sum(float("%.16G" % v) != v for v in values)
    assert changed > 1000, f"only {changed} of the values need 17 digits: the test would not notice 16"
    _, files = export("reals", "reals", columns=["v"])
    wb = openpyxl.load_workbook(io.BytesIO(files[0][1]), read_only=True)
    got = [row[0] for row in wb.active.iter_rows(min_row=2, values_only=True)]
    assert len(got) == len(values), (len(got), len(values))
    for i, (v, g) in enumerate(zip(values, got)):
        assert isinstance(g, (int, float)) and not isinstance(g, bool), f"row {i + 1}: {v!r} read as {g!r}"
        want = v if v != 0 else 0.0
        assert struct.pack("<d", float(g)) == struct.pack("<d", want), f"row {i + 1}: {v!r} read as {g!r}"


def test_text_too_long_fails_and_leaves_nothing():
    info, _ = export("edge_long", "edge", None, "[]", expect="FAILED")
    kinds = [k for k, _ in t.edge_values()]
    row = kinds.index("1 MB text") + 1
    n = len(t.edge_values()[row - 1][1])
    assert info["failure_reason"] == (
        f"invalid_request: row {row}, column 'v': a text of {n} characters does not fit in an xlsx cell, which holds "
        "at most 32767 (Excel's limit); shorten it in a SELECT source (substr()) or export this data as csv or jsonl"
    ), info["failure_reason"]
    assert not [n for n in os.listdir(OUT) if n.startswith("edge_long")], os.listdir(OUT)
    assert t.leftovers(OUT) == [], t.leftovers(OUT)


def test_header_off():
    info, files = export("orders_nohdr", "orders", {"header": False}, columns=["id", "customer", "total"],
                         criteria=json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 300}]))
    rows = db.execute("SELECT id, customer, total FROM orders WHERE id <= 300 ORDER BY id").fetchall()
    wb = openpyxl.load_workbook(io.BytesIO(files[0][1]))
    check_sheet(wb.active, ["id", "customer", "total"], rows, header=False, label="no header")


def test_pivot():
    t.define(db, "pivot_xlsx", "orders", "xlsx", {"pivot": {
        "fields": ["customer"], "column": "status",
        "summaries": [{"aggregator": "cnt"}, {"aggregator": "sum", "column": "total", "as": "revenue"},
                      {"aggregator": "max", "column": "qty"}]}})
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 3000}])
    plan = json.loads(t.scalar(db, "SELECT export_sql('pivot_xlsx', ?)", (crit,)))
    cur = db.execute(plan["sql"], plan["params"])
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    info = t.run(db, "pivot_xlsx", crit)
    files = t.check_files(db, info, OUT)
    assert info["rows_written"] == len(rows) > 100, (info["rows_written"], len(rows))
    wb = openpyxl.load_workbook(io.BytesIO(files[0][1]))
    check_sheet(wb.active, cols, rows, label="pivot")


def test_sheets_and_parts():
    """A separate database and connection whose service makes sheets of SHEET_ROWS rows."""
    path = os.path.join(folder, "sheets.db")
    out = os.path.join(folder, "sheets-out")
    t.make_orders_db(path, ROWS)
    os.environ["SQLITE_EXPORT_TEST_XLSX_SHEET_ROWS"] = str(SHEET_ROWS)
    try:
        conn = t.connect(path, output_dir=out)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_XLSX_SHEET_ROWS"]
    cols = ["id", "customer", "status", "total", "qty", "note"]
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM orders ORDER BY id").fetchall()
    per_sheet = SHEET_ROWS - 1

    def check_workbook(data, part_rows, label):
        wb = openpyxl.load_workbook(io.BytesIO(data))
        n = math.ceil(len(part_rows) / per_sheet) or 1
        assert wb.sheetnames == [f"Sheet{i}" for i in range(1, n + 1)], (label, wb.sheetnames)
        for i, name in enumerate(wb.sheetnames):
            check_sheet(wb[name], cols, part_rows[i * per_sheet:(i + 1) * per_sheet], label=f"{label} {name}")

    info, files = export("sheets", "orders", None, columns=cols, conn=conn, out=out)
    assert len(files) == 1 and files[0][0]["row_count"] == ROWS
    assert os.path.basename(files[0][0]["path"]) == "sheets-1.xlsx"
    check_workbook(files[0][1], rows, "sheets")
    # Parts of file_max_rows rows, each continuing on further sheets when larger than a sheet.
    part = per_sheet + per_sheet // 2
    info, files = export("parts", "orders", {"file_max_rows": part}, columns=cols, conn=conn, out=out)
    assert [os.path.basename(f["path"]) for f, _ in files] == \
        [f"parts-1-{i}.xlsx" for i in range(1, math.ceil(ROWS / part) + 1)]
    for i, (f, data) in enumerate(files):
        assert f["row_count"] == len(rows[i * part:(i + 1) * part]), f
        check_workbook(data, rows[i * part:(i + 1) * part], f"part {i + 1}")
    conn.close()


def test_zip_level():
    """compression_level sets the deflate level of the workbook's zip: 1 by default (minizip
    marks its members "super fast", general-purpose flag bits 1-2 = 3), 9 ("maximum", bits = 1)
    makes a smaller file with the same cells."""
    import zipfile
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 3000}])
    _, fast = export("zip_fast", "orders", None, crit)
    _, small = export("zip_small", "orders", {"compression_level": 9}, crit)
    sizes = {}
    for label, files, bits in (("default", fast, 3), ("level 9", small, 1)):
        (f, data), = files
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            sheet = z.getinfo("xl/worksheets/sheet1.xml")
            assert sheet.compress_type == zipfile.ZIP_DEFLATED, sheet.compress_type
            assert (sheet.flag_bits >> 1) & 3 == bits, f"{label}: flag bits {sheet.flag_bits:#x}"
            sizes[label] = sheet.compress_size
    assert sizes["level 9"] < sizes["default"], sizes
    read = [[c for c in openpyxl.load_workbook(io.BytesIO(files[0][1]), read_only=True).active.values]
            for files in (fast, small)]
    want = t.scalar(db, "SELECT count(*) FROM orders WHERE id <= 3000") + 1  # and the header
    assert read[0] == read[1] and len(read[0]) == want, (len(read[0]), want)


def test_abort_midway_leaves_no_file():
    path = os.path.join(folder, "abort.db")
    out = os.path.join(folder, "abort-out")
    t.make_orders_db(path, ROWS)
    os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"] = "1000"
    try:
        conn = t.connect(path, output_dir=out)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"]
    t.define(conn, "slow", "orders", "xlsx")
    run_id = t.scalar(conn, "SELECT export_run('slow', '[]')")
    deadline = t.time.monotonic() + 60
    while t.scalar(conn, "SELECT rows_written FROM export_runs WHERE id = ?", (run_id,)) in (None, 0):
        assert t.time.monotonic() < deadline, "the run never started writing"
        t.time.sleep(0.05)
    assert t.scalar(conn, "SELECT export_abort(?)", (run_id,)) == 1
    assert t.scalar(conn, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS)) == "ABORTED"
    t.time.sleep(0.2)
    info = t.run_info(conn, run_id)
    assert 0 < info["rows_written"] < ROWS, info
    assert t.scalar(conn, "SELECT count(*) FROM export_files WHERE run_id = ?", (run_id,)) == 0
    # Nothing in the folder: no final file, no temporary file, no libxlsxwriter leftovers.
    deadline = t.time.monotonic() + 10
    while os.path.isdir(out) and os.listdir(out) and t.time.monotonic() < deadline:
        t.time.sleep(0.1)
    assert not os.path.isdir(out) or os.listdir(out) == [], os.listdir(out)
    conn.close()


PACK_ROWS = 8000


def packing_db(name, sheet_rows=None):
    """A database whose export `big` writes quickly but packs for seconds: 8,000 rows of four
    4,000-character hex texts (128 MB of sheet XML for libxlsxwriter to compress at level 6)."""
    path = os.path.join(folder, name + ".db")
    if sheet_rows:
        os.environ["SQLITE_EXPORT_TEST_XLSX_SHEET_ROWS"] = str(sheet_rows)
    try:
        conn = t.connect(path, output_dir=os.path.join(folder, name + "-out"))
    finally:
        os.environ.pop("SQLITE_EXPORT_TEST_XLSX_SHEET_ROWS", None)
    conn.execute(f"""CREATE VIEW big AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                      WHERE i < {PACK_ROWS}) SELECT i AS id, hex(randomblob(2000)) AS a, hex(randomblob(2000)) AS b,
                      hex(randomblob(2000)) AS c, hex(randomblob(2000)) AS d FROM n""")
    t.define(conn, "big", "big", "xlsx", {"compression_level": 6})  # zlib's default: slower than 1
    return path, conn


def wait_packing(conn, run_id):
    """Wait until every row is written (the heartbeat reports them): the workbook is being packed."""
    deadline = t.time.monotonic() + t.WAIT_MS / 1000
    while (t.scalar(conn, "SELECT rows_written FROM export_runs WHERE id = ?", (run_id,)) or 0) < PACK_ROWS:
        assert t.scalar(conn, "SELECT status FROM export_runs WHERE id = ?", (run_id,)) in ("CREATED", "RUNNING")
        assert t.time.monotonic() < deadline, "the run never wrote every row"
        t.time.sleep(0.02)
    return t.time.monotonic()


def packing_seconds():
    """How long packing takes when nothing stops it (the test's yardstick)."""
    _, conn = packing_db("pack-full")
    run_id = t.scalar(conn, "SELECT export_run('big', '[]')")
    start = wait_packing(conn, run_id)
    assert t.scalar(conn, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS)) == "COMPLETE"
    seconds = t.time.monotonic() - start
    conn.close()
    return seconds


def open_in(out):
    """This process's descriptors open on files in folder out (unlinked ones included)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(out + "/"):
            found.append(target)
    return found


def test_stop_while_packing():
    """Guarantee 8 while libxlsxwriter packs the workbook: an abort, and a close of the
    connection, end the run within about a second, not when the packing would have ended
    (seconds later); nothing is left in the folder; the closed connection's run is queued again."""
    full = packing_seconds()
    assert full > 3, f"packing took only {full:.1f} s: too short to show that a stop does not wait for it"
    # An abort, with the rows on four sheets: packing stops in the first, and the library leaves
    # the other sheets' temporary files open, which the run closes.
    _, conn = packing_db("pack-abort", sheet_rows=PACK_ROWS // 4 + 1)
    conn.execute("CREATE TABLE one(x)")
    conn.execute("INSERT INTO one VALUES (1)")
    t.define(conn, "one", "one", "csv")
    run_id = t.scalar(conn, "SELECT export_run('big', '[]')")
    wait_packing(conn, run_id)
    start = t.time.monotonic()
    assert t.scalar(conn, "SELECT export_abort(?)", (run_id,)) == 1
    assert t.scalar(conn, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS)) == "ABORTED"
    # The status is ABORTED at once; the worker is free (its one worker runs the next run) only
    # when the aborted run has stopped.
    nxt = t.scalar(conn, "SELECT export_run('one', '[]')")
    assert t.scalar(conn, "SELECT export_wait(?, ?)", (nxt, t.WAIT_MS)) == "COMPLETE"
    took = t.time.monotonic() - start
    assert took < 1.5, f"the worker was busy {took:.2f} s after an abort while packing (packing takes {full:.1f} s)"
    out = os.path.join(folder, "pack-abort-out")
    assert os.listdir(out) == ["one-1.csv"], os.listdir(out)  # nothing of the aborted run
    assert open_in(out) == [], f"descriptors left open: {open_in(out)}"
    conn.close()
    # A close.
    path, conn = packing_db("pack-close")
    run_id = t.scalar(conn, "SELECT export_run('big', '[]')")
    wait_packing(conn, run_id)
    start = t.time.monotonic()
    conn.close()
    took = t.time.monotonic() - start
    assert took < 1.5, f"closing the connection while packing took {took:.2f} s (packing takes {full:.1f} s)"
    out = os.path.join(folder, "pack-close-out")
    assert not os.path.isdir(out) or os.listdir(out) == [], os.listdir(out)
    assert open_in(out) == [], f"descriptors left open: {open_in(out)}"
    # Read without the extension (loading it would start a worker that runs it again): queued
    # again (CREATED), no file recorded.
    check = t.sqlite3.connect(path)
    assert check.execute("SELECT status FROM _export_runs WHERE id = ?", (run_id,)).fetchone() == ("CREATED",)
    assert check.execute("SELECT count(*) FROM _export_files").fetchone() == (0,)
    check.close()


def test_libreoffice_reads_it():
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise t.SkipCase("LibreOffice is not installed (scripts/setup.sh --tests installs libreoffice-calc-nogui; "
                         "it could not be installed here)")
    cols = ["id", "customer", "status", "qty", "note", "total"]
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN_OR_EQUAL_TO", "value": 2000}])
    info, files = export("lo", "orders", None, crit, columns=cols)
    rows = db.execute(f"SELECT {', '.join(cols)} FROM orders WHERE id <= 2000 ORDER BY id").fetchall()
    work = tempfile.mkdtemp(prefix="lo-", dir=folder)
    src = os.path.join(work, "lo.xlsx")
    with open(src, "wb") as fh:
        fh.write(files[0][1])
    # Its own profile and HOME, without the sanitizer runtime (a program this project did not write).
    env = dict(t.TOOL_ENV, HOME=work)
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{work}/profile", "--headless", "--norestore",
                        "--convert-to", 'csv:Text - txt - csv (StarCalc):44,34,76,1', "--outdir", work, src],
                       capture_output=True, text=True, env=env, timeout=600)
    out = os.path.join(work, "lo.csv")
    assert r.returncode == 0 and os.path.exists(out), f"soffice failed ({r.returncode}): {r.stdout} {r.stderr}"
    with open(out, encoding="utf-8", newline="") as fh:
        got = list(csv.reader(fh))
    assert got[0] == cols, got[0]
    assert len(got) - 1 == len(rows), (len(got) - 1, len(rows))
    for i, (g, e) in enumerate(zip(got[1:], rows), start=1):
        where = f"LibreOffice row {i}"
        assert g[0] == str(e[0]) and g[1] == e[1] and g[2] == e[2], (where, g, e)
        qty = e[3]
        assert g[3] == (str(qty) if abs(qty) <= 2 ** 53 else str(qty)), (where, g[3], qty)
        assert g[4] == (e[4] or ""), (where, g[4], e[4])
        if e[5] is None:
            assert g[5] == "", (where, g[5])
        else:
            assert math.isclose(float(g[5]), e[5], rel_tol=1e-9), (where, g[5], e[5])


t.main([test_edge_values_hex, test_edge_values_base64, test_random_reals_read_back_exactly, test_text_too_long_fails_and_leaves_nothing, test_header_off,
        test_pivot, test_sheets_and_parts, test_zip_level, test_abort_midway_leaves_no_file, test_stop_while_packing, test_libreoffice_reads_it])
