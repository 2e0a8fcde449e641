#!/usr/bin/python3
"""I/O failures (SPEC 8 io_error, guarantee 5 atomic files): a run that cannot write its files
ends FAILED with failure_reason "io_error: ..." naming the path, and leaves no file behind.

(a) The output folder cannot be used. Tests run as root, where chmod does not stop writes, so the
    folder is made unusable in ways that fail for root too: its parent is a regular file, it is a
    regular file, it is a symbolic link (refused by design, guarantee 7), it is under /proc.
(b) Disk full, for real: a child process sets RLIMIT_FSIZE (with SIGXFSZ ignored, so write() fails
    with EFBIG "File too large" instead of killing the process) and runs, on its own worker, an
    export bigger than the limit -- one file, and a split export whose first parts complete before
    a later one fails. Each run ends FAILED with io_error and 'File too large', no final or
    temporary file remains, the database stays intact (PRAGMA integrity_check) and usable (a small
    export then completes in the same process). The database itself stays far below the limit.
    An xlsx export whose sheet data (libxlsxwriter's temporary file) passes the limit fails too,
    though the workbook itself would be small.
"""
import json
import os
import subprocess
import sys
import tempfile

import exporttest as t

folder = tempfile.mkdtemp(prefix="iofail-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "app.db")
SMALL_ROWS = 100
ROW_TEXT = 1000

db = t.connect(DB_PATH)
db.execute("CREATE TABLE small(id INTEGER PRIMARY KEY, t TEXT)")
db.execute("BEGIN")
db.executemany("INSERT INTO small VALUES (?, ?)", [(i, f"{i:04d}" + "x" * (ROW_TEXT - 4)) for i in range(1, SMALL_ROWS + 1)])
db.execute("COMMIT")
# 10,000 rows of ~1 KB (~10 MB of CSV) from a ~150 KB database, in an order that needs no sort
# (ORDER BY id, sub is the nested loops' order: SQLite writes no temporary file, see EXPLAIN QUERY PLAN)
db.execute("CREATE VIEW big AS SELECT a.id AS id, b.id AS sub, a.t AS t FROM small a CROSS JOIN small b")
# 99 rows of ~1 KB, then one row of 6 MB (rowid order: no sort)
db.execute("CREATE VIEW then_huge AS SELECT id, CASE WHEN id = 100 THEN hex(zeroblob(3000000)) ELSE t END AS t FROM small")
# the same 10 MB, but sorted: SQLite's sorter spills to a temporary file, which the limit stops too
db.execute("CREATE VIEW big_sorted AS SELECT a.id * 1000 + b.id AS id, a.t AS t FROM small a CROSS JOIN small b")
t.define(db, "small", "small", "csv")


def tree(path):
    out = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), path))
    return sorted(out)


def failing_run(out_dir, name, expect_in_reason):
    db.execute("SELECT export_config('output_dir', ?)", (out_dir,))
    info = t.run(db, name, expect="FAILED")
    reason = info["failure_reason"] or ""
    assert reason.startswith("io_error: "), f"failure_reason {reason!r} does not start with 'io_error: '"
    for s in expect_in_reason:
        assert s in reason, f"failure_reason {reason!r} does not mention {s!r}"
    assert info["file_count"] == 0 and info["rows_written"] == 0, info
    assert t.files_of(db, info["id"]) == []
    return info


def test_parent_is_a_file():
    area = os.path.join(folder, "a1")
    os.mkdir(area)
    with open(os.path.join(area, "afile"), "w") as fh:
        fh.write("not a folder\n")
    out = os.path.join(area, "afile", "out")
    failing_run(out, "small", [out, "Not a directory"])
    assert tree(area) == ["afile"], tree(area)
    with open(os.path.join(area, "afile")) as fh:
        assert fh.read() == "not a folder\n"


def test_output_dir_is_a_file():
    area = os.path.join(folder, "a2")
    os.mkdir(area)
    out = os.path.join(area, "out")
    with open(out, "w") as fh:
        fh.write("x")
    failing_run(out, "small", [out])
    assert tree(area) == ["out"] and os.path.getsize(out) == 1


def test_output_dir_is_a_symlink():
    area = os.path.join(folder, "a3")
    os.makedirs(os.path.join(area, "real"))
    out = os.path.join(area, "link")
    os.symlink(os.path.join(area, "real"), out)
    failing_run(out, "small", [out, "symbolic link"])
    assert tree(area) == ["link", "real"], tree(area)


def test_output_dir_under_proc():
    out = "/proc/sqlite-export-test-%d" % os.getpid()
    try:
        os.mkdir(out)
        os.rmdir(out)
        raise t.SkipCase("this system lets root create folders in /proc")
    except OSError:
        pass
    failing_run(out, "small", [out])


def test_good_folder_still_works():
    out = os.path.join(folder, "good")
    db.execute("SELECT export_config('output_dir', ?)", (out,))
    info = t.run(db, "small")
    files = t.check_files(db, info, out)
    assert len(files) == 1 and info["rows_written"] == SMALL_ROWS


CHILD = r"""
import json, os, resource, signal, sqlite3, sys
sys.path.insert(0, sys.argv[1])
import exporttest as t
db_path, out, limit, names = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
db = t.connect(db_path, output_dir=out)
db.execute("SELECT export_config('workers', 1)")
result = {}
for name in names:
    run_id = t.scalar(db, "SELECT export_run(?, '[]')", (name,))
    status = t.scalar(db, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS))
    info = t.run_info(db, run_id)
    result[name] = {"id": run_id, "status": status, "reason": info["failure_reason"], "file_count": info["file_count"],
                    "listing": sorted(os.listdir(out)) if os.path.isdir(out) else None,
                    "integrity": t.scalar(db, "PRAGMA integrity_check")}
db.close()
print(json.dumps(result))
"""
LIMIT = 2 << 20
FSIZE_OUT = os.path.join(folder, "fsize-out")
_child = {}


def child_result():
    """Runs the RLIMIT_FSIZE child once; returns its per-export results."""
    if _child:
        return _child
    t.define(db, "big_one_file", "big", "csv", {"order_by": ["id", "sub"]})
    t.define(db, "big_parts", "then_huge", "csv", {"file_max_bytes": 20000})
    t.define(db, "big_sorted", "big_sorted", "jsonl", {"order_by": ["id"]})
    t.define(db, "big_xlsx", "big", "xlsx")
    t.define(db, "small_after", "small", "csv")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("", "-wal"):
        size = os.path.getsize(DB_PATH + suffix) if os.path.exists(DB_PATH + suffix) else 0
        assert size < LIMIT // 4, f"database file{suffix} is {size} bytes: too close to the limit {LIMIT}"
    script = os.path.join(folder, "child.py")
    with open(script, "w") as fh:
        fh.write(CHILD)
    here = os.path.dirname(os.path.abspath(__file__))
    names = ["big_one_file", "big_parts", "big_sorted", "big_xlsx", "small_after"]
    # only the child's worker (under the limit) may claim these runs: this connection's stops meanwhile
    db.execute("SELECT export_config('workers', 0)")
    try:
        proc = subprocess.run([sys.executable, script, here, DB_PATH, FSIZE_OUT, str(LIMIT)] + names, env=dict(os.environ),
                              capture_output=True, text=True, timeout=t.scaled(120, 600))
    finally:
        db.execute("SELECT export_config('workers', 1)")
    assert proc.returncode == 0, f"child exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    _child.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("  child:", json.dumps({k: (v["status"], v["reason"]) for k, v in _child.items()}))
    return _child


def check_failed(name, need_file_too_large=True):
    r = child_result()[name]
    assert r["status"] == "FAILED", f"{name}: {r}"
    reason = r["reason"] or ""
    assert reason.startswith("io_error: "), f"{name}: failure_reason {reason!r}"
    assert r["file_count"] == 0, r
    assert r["listing"] == [], f"{name}: files left in the output folder: {r['listing']}"
    assert r["integrity"] == "ok", r["integrity"]
    # seen from this process too
    info = t.run_info(db, r["id"])
    assert info["status"] == "FAILED" and info["failure_reason"] == reason, info
    assert t.files_of(db, info["id"]) == []
    if need_file_too_large:
        assert "File too large" in reason, f"{name}: failure_reason {reason!r} does not say 'File too large'"
        assert FSIZE_OUT in reason, f"{name}: failure_reason {reason!r} does not name the folder {FSIZE_OUT}"
    return reason


def test_file_too_large_one_file():
    check_failed("big_one_file")


def test_file_too_large_after_complete_parts():
    # parts of ~20 KB complete (under temporary names) before the 6 MB row's part fails: none may remain
    check_failed("big_parts")


def test_file_too_large_in_sqlite_temp_file():
    # The sort spills to a SQLite temporary file, which hits the limit before the output file does.
    reason = check_failed("big_sorted", need_file_too_large=False)
    assert reason.startswith("io_error: "), reason
    assert "File too large" in reason, f"the system's error (EFBIG) is named: {reason!r}"


def test_file_too_large_in_xlsx_temp_file():
    # libxlsxwriter keeps a sheet's rows (10 MB of XML here) in a temporary file and ignores its
    # write errors; the workbook itself would be tiny (the text is one letter repeated), so
    # before ext/xlsx_hooks.h this run was COMPLETE with a sheet cut off at the limit.
    reason = check_failed("big_xlsx")
    assert reason == (f"io_error: cannot write the xlsx file '{FSIZE_OUT}/big_xlsx-1.xlsx': its temporary data in "
                      f"'{FSIZE_OUT}': File too large"), reason


def test_database_intact_and_usable():
    r = child_result()["small_after"]
    assert r["status"] == "COMPLETE", f"a small export after the failures, in the same process: {r}"
    assert r["listing"] == ["small_after-1.csv"], r["listing"]
    assert t.scalar(db, "PRAGMA integrity_check") == "ok"
    assert sorted(os.listdir(FSIZE_OUT)) == ["small_after-1.csv"], os.listdir(FSIZE_OUT)
    info = t.run_info(db, r["id"])
    t.check_files(db, info, FSIZE_OUT)


t.main([test_parent_is_a_file, test_output_dir_is_a_file, test_output_dir_is_a_symlink, test_output_dir_under_proc,
        test_good_folder_still_works, test_file_too_large_one_file, test_file_too_large_after_complete_parts,
        test_file_too_large_in_sqlite_temp_file, test_file_too_large_in_xlsx_temp_file, test_database_intact_and_usable])
