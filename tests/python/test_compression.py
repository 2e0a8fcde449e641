#!/usr/bin/python3
"""Compressed exports (SPEC 6 compression, issue 16): gzip and zstd files read back, through
readers this project did not write, byte for byte equal to the plain export of the same data.

For csv, tsv and jsonl, with one worker and with export_config('parallel', 2) (two readers):
  - the plain export, then gzip (default level and 9) and zstd (default level and 19);
  - each compressed file decompresses to exactly the plain file's bytes through `gzip -dc`,
    Python's gzip module, `zstd -dc`; and DuckDB (tests/readers/duckdb_read.mjs) reads the same
    rows from it as from the plain file;
  - a file larger than one gzip block (1 MiB) is several gzip members: the readers take them
    as one stream;
  - export_files.compression names the codec, the file ends in .gz / .zst, size_bytes and
    sha256 are of the bytes on disk (checked by exporttest.check_files).
Split parts (file_max_bytes on compressed bytes) are read by DuckDB as one data set. An empty
export is a valid empty compressed file. A run aborted while its blocks are being compressed
leaves no file, final or temporary.
"""
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time

import exporttest as t

ROWS = t.scaled(40000, 8000)  # ~3 MB of CSV: three gzip blocks
NODE = shutil.which("node")
DUCKDB_READ = os.path.join(t.SOURCE_DIR, "tests", "readers", "duckdb_read.mjs")
HAVE_DUCKDB = os.path.isdir(os.path.join(t.SOURCE_DIR, "bench", "node_modules", "@duckdb", "node-api"))

folder = tempfile.mkdtemp(prefix="compression-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "data.db")
OUT = os.path.join(folder, "out")
t.make_orders_db(DB_PATH, ROWS)
db = t.connect(DB_PATH, output_dir=OUT)
counter = [0]
duckdb_checks = [0]


def export(fmt, opts, criteria="[]"):
    counter[0] += 1
    name = f"c_{fmt}_{counter[0]}"
    t.define(db, name, "orders", fmt, opts)
    info = t.run(db, name, criteria)
    files = t.check_files(db, info, OUT)
    assert t.leftovers(OUT) == [], f"temporary files left: {t.leftovers(OUT)}"
    return info, files


def tool(args, path):
    r = subprocess.run(args + [path], capture_output=True, env=t.TOOL_ENV)
    assert r.returncode == 0, f"{' '.join(args)} {path}: {r.stderr.decode(errors='replace')}"
    return r.stdout


def content(f, data):
    """The file's content, by every reader of its codec; they must agree."""
    comp = f["compression"]
    if comp == "gzip":
        assert f["path"].endswith(".gz"), f["path"]
        by_tool = tool(["gzip", "-dc"], f["path"])
        by_python = gzip.decompress(data)
        assert by_tool == by_python, f"{f['path']}: gzip -dc and Python's gzip disagree"
        return by_tool
    if comp == "zstd":
        assert f["path"].endswith(".zst"), f["path"]
        return t.zstd_decompress(f["path"])
    assert comp == "none", comp
    return data


def duckdb_same_rows(fmt, plain_path, others):
    """DuckDB reads the same rows from each of others (a path, or a list of parts) as from plain_path."""
    if not (NODE and HAVE_DUCKDB):
        return
    args = [NODE, DUCKDB_READ, fmt, plain_path] + ["+".join(o) if isinstance(o, list) else o for o in others]
    r = subprocess.run(args, capture_output=True, text=True, env=t.TOOL_ENV)
    assert r.returncode == 0, f"DuckDB read back failed: {r.stderr}{r.stdout}"
    out = json.loads(r.stdout)
    assert out["files"] == len(others), out
    duckdb_checks[0] += len(others)


def check_format(fmt, parallel):
    db.execute("SELECT export_config('parallel', ?)", (parallel,))
    base = {"blob": "base64"} if fmt == "jsonl" else {}
    info, ((plain_f, plain),) = export(fmt, base)
    assert info["rows_written"] == ROWS
    others = []
    for comp, level in (("gzip", None), ("gzip", 9), ("zstd", None), ("zstd", 19)):
        opts = dict(base, compression=comp)
        if level is not None:
            opts["compression_level"] = level
        info, ((f, data),) = export(fmt, opts)
        label = f"{fmt} parallel={parallel} {json.dumps(opts)}"
        assert f["compression"] == comp, (label, f["compression"])
        assert info["rows_written"] == ROWS, label
        got = content(f, data)
        assert got == plain, f"{label}: decompressed file differs from the plain export ({len(got)} vs {len(plain)} bytes)"
        assert len(data) < len(plain) // 2, f"{label}: {len(data)} bytes compressed from {len(plain)}"
        if comp == "gzip" and len(plain) > 1 << 20:
            members = data.count(b"\x1f\x8b\x08")
            assert members >= len(plain) >> 20, f"{label}: expected one gzip member a MiB, found about {members}"
        others.append(f["path"])
    duckdb_same_rows(fmt, plain_f["path"], others)


def test_csv_one_reader():
    check_format("csv", 1)


def test_csv_parallel():
    check_format("csv", 2)


def test_tsv_parallel():
    check_format("tsv", 2)


def test_jsonl_one_reader():
    check_format("jsonl", 1)


def test_jsonl_parallel():
    check_format("jsonl", 2)


def test_parts_read_as_one():
    db.execute("SELECT export_config('parallel', 1)")
    info, ((plain_f, plain),) = export("csv", {})
    sets = []
    for comp in ("gzip", "zstd"):
        info, files = export("csv", {"compression": comp, "file_max_bytes": 50000})
        assert len(files) >= 2, (comp, len(files))
        assert all(f["size_bytes"] <= 50000 for f, _ in files), [f["size_bytes"] for f, _ in files]
        body = b""
        for i, (f, data) in enumerate(files):
            raw = content(f, data)
            header, _, rest = raw.partition(b"\n")
            body += raw if i == 0 else rest
        assert body == plain, f"{comp}: the parts do not concatenate to the plain export"
        sets.append([f["path"] for f, _ in files])
    duckdb_same_rows("csv", plain_f["path"], sets)


def test_empty_export():
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN", "value": 0}])
    for fmt in ("csv", "jsonl"):
        for comp in ("gzip", "zstd"):
            info, ((f, data),) = export(fmt, {"compression": comp}, crit)
            assert info["rows_written"] == 0 and f["row_count"] == 0
            want = b"id,customer,status,total,qty,created_at,note,payload\n" if fmt == "csv" else b""
            assert len(data) > 0 and content(f, data) == want, (fmt, comp, data)


def test_abort_while_compressing():
    """An export aborted while its blocks are being compressed leaves nothing in the folder."""
    path = os.path.join(folder, "slow.db")
    out = os.path.join(folder, "slow-out")
    os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"] = "100"  # read when a connection loads the extension
    try:
        slow = t.connect(path, output_dir=out)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"]
    slow.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT)")
    slow.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40000) "
                 "INSERT INTO big SELECT i, hex(randomblob(300)) FROM c")  # ~24 MB of CSV, ~4 s
    for comp in ("gzip", "zstd"):
        t.define(slow, f"big_{comp}", "big", "csv", {"compression": comp})
        rid = t.scalar(slow, "SELECT export_run(?, '[]')", (f"big_{comp}",))
        deadline = time.monotonic() + 60
        # past the first blocks: some are written, others in flight
        while (t.run_info(slow, rid)["bytes_written"] or 0) < 2 << 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        info = t.run_info(slow, rid)
        assert info["status"] == "RUNNING" and info["bytes_written"] >= 2 << 20, (
            f"{comp}: expected a RUNNING run past 2 MiB, got {info['status']} with {info['bytes_written']} bytes; "
            "this test slows the worker with SQLITE_EXPORT_TEST_ROW_DELAY_US (ext/service.cpp)")
        assert t.scalar(slow, "SELECT export_abort(?)", (rid,)) == 1
        assert t.scalar(slow, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "ABORTED"
        deadline = time.monotonic() + 10
        while os.listdir(out) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.listdir(out) == [], f"{comp}: files left after the abort: {os.listdir(out)}"
        assert t.files_of(slow, rid) == []
    slow.close()


def test_readers_ran():
    # DuckDB is part of the test command (scripts/setup.sh installs it); say so if it was missing
    if not (NODE and HAVE_DUCKDB):
        raise AssertionError("DuckDB (bench/node_modules/@duckdb/node-api, node) is missing: scripts/setup.sh installs it")
    assert duckdb_checks[0] >= 20, duckdb_checks[0]


t.main([test_csv_one_reader, test_csv_parallel, test_tsv_parallel, test_jsonl_one_reader, test_jsonl_parallel,
        test_parts_read_as_one, test_empty_export, test_abort_while_compressing, test_readers_ran])
