#!/usr/bin/python3
"""Incremental exports (issue 17): option 'incremental': {"column": c}, export_runs.watermark_from /
watermark_to, export_run's metadata {"full": true}.

A run exports the rows with watermark_to(latest COMPLETE, DOWNLOADED or EXPIRED run) < c <= the
greatest c of its own snapshot (its watermark_to). The files are read back with Python's csv and
json modules and compared with the table.

  - first run: every row whose column is not NULL (watermark_from NULL); second run: only the
    rows above the first's watermark_to (a new row with a small value is not exported); a run with
    nothing new exports 0 rows and keeps the watermark; NULLs never, except in a full run
    (metadata {"full": true}: every row, watermark_from NULL, watermark_to the greatest value);
  - export_count / export_sql show the bound the next run would use;
  - a FAILED run (output folder under a regular file) and an ABORTED run do not move the
    watermark: the next run exports their rows;
  - incremental on "rowid" of a table without a rowid alias, on a TEXT timestamp (an updated row
    is exported again), and with fixed criteria;
  - 20 runs one after another (the last 10 with two parallel readers) while a thread commits
    rows throughout: the files of all runs together hold every row of the table exactly once,
    and each run's rows lie in its (watermark_from, watermark_to].
"""
import csv
import io
import json
import os
import sqlite3
import tempfile
import threading
import time

import exporttest as t

folder = tempfile.mkdtemp(prefix="incremental-", dir=os.getcwd())
_count = [0]


def new_db():
    _count[0] += 1
    sub = os.path.join(folder, f"db{_count[0]}")
    os.mkdir(sub)
    return os.path.join(sub, "app.db")


def incremental(column, **more):
    return dict({"incremental": {"column": column}}, **more)


def file_rows(db, info):
    """Every row of a COMPLETE run's files, as dicts of text (csv) or JSON values (jsonl)."""
    out = []
    for f, data in t.check_files(db, info):
        text = data.decode("utf-8")
        if f["format"] == "jsonl":
            out.extend(json.loads(line) for line in text.splitlines())
        else:
            out.extend(csv.DictReader(io.StringIO(text, newline="")))
    assert len(out) == info["rows_written"], (len(out), info["rows_written"])
    return out


def ids_of(db, info, key="id"):
    return [int(r[key]) for r in file_rows(db, info)]


def run_meta(db, name, metadata=None, criteria="[]", expect="COMPLETE"):
    rid = t.scalar(db, "SELECT export_run(?, ?, ?)", (name, criteria, metadata))
    status = t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS))
    info = t.run_info(db, rid)
    assert status == expect, (status, info["failure_reason"])
    return info


def wm(info):
    return info["watermark_from"], info["watermark_to"]


def test_first_second_full_nulls():
    db = t.connect(new_db())
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, kind TEXT, seq INTEGER)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"k{i}", i * 10) for i in range(1, 11)])
    db.executemany("INSERT INTO items VALUES (?, ?, NULL)", [(11, "null a"), (12, "null b")])
    t.define(db, "inc", "items", options=incremental("seq"))
    opts = json.loads(t.scalar(db, "SELECT options FROM exports WHERE name = 'inc'"))
    assert opts["incremental"] == {"column": "seq"} and opts["exclusive"] is True, opts
    assert t.scalar(db, "SELECT export_count('inc')") == 10  # the NULLs are not counted

    r1 = t.run(db, "inc")
    assert sorted(ids_of(db, r1)) == list(range(1, 11)), ids_of(db, r1)
    assert wm(r1) == (None, 100), wm(r1)
    assert r1["origin"] == "manual"

    # new rows: above the watermark (exported), NULL (never), below it (not: the column decides)
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"k{i}", i * 10) for i in range(13, 18)])
    db.execute("INSERT INTO items VALUES (18, 'null c', NULL)")
    db.execute("INSERT INTO items VALUES (19, 'late', 55)")
    assert t.scalar(db, "SELECT export_count('inc')") == 5
    shown = json.loads(t.scalar(db, "SELECT export_sql('inc')"))
    assert '"seq"' in shown["sql"] and 100 in shown["params"] and 170 in shown["params"], shown
    r2 = t.run(db, "inc")
    assert ids_of(db, r2) == list(range(13, 18)), ids_of(db, r2)
    assert wm(r2) == (100, 170), wm(r2)
    assert r2["number"] == 2

    # nothing new: 0 rows, the watermark stays
    assert t.scalar(db, "SELECT export_count('inc')") == 0
    r3 = t.run(db, "inc")
    assert r3["rows_written"] == 0 and wm(r3) == (170, 170), (r3["rows_written"], wm(r3))

    # a full run: every row, NULLs included
    r4 = run_meta(db, "inc", '{"full": true, "requested_by": "backfill"}')
    assert sorted(ids_of(db, r4)) == list(range(1, 20)), ids_of(db, r4)
    assert wm(r4) == (None, 170), wm(r4)
    assert r4["requested_by"] == "backfill" and json.loads(r4["metadata"])["full"] is True, r4
    rows = {int(r["id"]): r for r in file_rows(db, r4)}
    assert rows[11]["seq"] == "" and rows[18]["seq"] == "" and rows[19]["seq"] == "55", rows
    # {"full": false} is an ordinary incremental run
    db.execute("INSERT INTO items VALUES (20, 'k20', 200)")
    r5 = run_meta(db, "inc", '{"full": false}')
    assert ids_of(db, r5) == [20] and wm(r5) == (170, 200), (ids_of(db, r5), wm(r5))
    # the full run's criteria still apply; the next incremental run starts from its watermark_to
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(21, "k21", 210), (22, "k22", 220)])
    crit = json.dumps([{"attribute": "id", "operator": "IS_LESS_THAN", "value": 5}])
    r6 = run_meta(db, "inc", '{"full": true}', criteria=crit)
    assert sorted(ids_of(db, r6)) == [1, 2, 3, 4], ids_of(db, r6)
    assert r6["watermark_from"] is None, wm(r6)
    r7 = t.run(db, "inc")
    assert r7["watermark_from"] == r6["watermark_to"], (wm(r6), wm(r7))
    db.close()


def test_failed_and_aborted_runs_keep_the_watermark():
    db = t.connect(new_db())
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
    db.executemany("INSERT INTO items VALUES (?, ?)", [(i, i) for i in range(1, 6)])
    t.define(db, "inc", "items", "jsonl", options=incremental("seq"))
    r1 = t.run(db, "inc")
    assert ids_of(db, r1) == [1, 2, 3, 4, 5] and wm(r1) == (None, 5), wm(r1)

    # FAILED: the output folder's parent is a regular file
    db.executemany("INSERT INTO items VALUES (?, ?)", [(i, i) for i in range(6, 9)])
    good_dir = t.scalar(db, "SELECT export_config('output_dir')")
    afile = os.path.join(folder, "afile")
    with open(afile, "w") as fh:
        fh.write("not a folder\n")
    db.execute("SELECT export_config('output_dir', ?)", (os.path.join(afile, "out"),))
    bad = t.run(db, "inc", expect="FAILED")
    assert bad["failure_reason"].startswith("io_error: "), bad["failure_reason"]
    db.execute("SELECT export_config('output_dir', ?)", (good_dir,))
    assert t.scalar(db, "SELECT export_count('inc')") == 3
    r3 = t.run(db, "inc")
    assert ids_of(db, r3) == [6, 7, 8] and wm(r3) == (5, 8), (ids_of(db, r3), wm(r3))

    # ABORTED while queued
    db.executemany("INSERT INTO items VALUES (?, ?)", [(i, i) for i in range(9, 12)])
    db.execute("SELECT export_config('workers', 0)")
    rid = t.scalar(db, "SELECT export_run('inc', '[]')")
    assert t.scalar(db, "SELECT export_abort(?)", (rid,)) == 1
    db.execute("SELECT export_config('workers', 1)")
    assert t.run_info(db, rid)["status"] == "ABORTED"
    db.executemany("INSERT INTO items VALUES (?, ?)", [(12, 12)])
    r5 = t.run(db, "inc")
    assert ids_of(db, r5) == [9, 10, 11, 12] and wm(r5) == (8, 12), (ids_of(db, r5), wm(r5))

    # a DOWNLOADED run still counts as the latest complete one
    for f in t.files_of(db, r5["id"]):
        t.scalar(db, "SELECT export_download(?)", (f["id"],))
    assert t.run_info(db, r5["id"])["status"] == "DOWNLOADED"
    db.execute("INSERT INTO items VALUES (13, 13)")
    r6 = t.run(db, "inc")
    assert ids_of(db, r6) == [13] and wm(r6) == (12, 13), (ids_of(db, r6), wm(r6))
    db.close()


def test_collation_and_deletes():
    """The bounds compare as the column does (NOCASE here), and never move back after deletes."""
    db = t.connect(new_db())
    db.execute("CREATE TABLE w(id INTEGER PRIMARY KEY, k TEXT COLLATE NOCASE)")
    db.executemany("INSERT INTO w(k) VALUES (?)", [("a",), ("b",)])
    t.define(db, "w", "w", "jsonl", options=incremental("k"))
    r1 = t.run(db, "w")
    assert ids_of(db, r1) == [1, 2] and wm(r1) == (None, "b"), wm(r1)
    db.execute("INSERT INTO w(k) VALUES ('C')")  # above 'b' in NOCASE, below it in BINARY
    r2 = t.run(db, "w")
    assert ids_of(db, r2) == [3] and wm(r2) == ("b", "C"), (ids_of(db, r2), wm(r2))
    db.execute("DELETE FROM w WHERE k = 'C'")
    r3 = t.run(db, "w")
    assert ids_of(db, r3) == [] and wm(r3) == ("C", "C"), wm(r3)
    db.execute("INSERT INTO w(k) VALUES ('d')")
    r4 = t.run(db, "w")
    assert ids_of(db, r4) == [3] and wm(r4) == ("C", "d"), (ids_of(db, r4), wm(r4))  # id 3 again: it was the max
    db.close()


def test_rowid():
    db = t.connect(new_db())
    db.execute("CREATE TABLE logs(msg TEXT)")  # no rowid alias: the rowid is not a column of the output
    db.executemany("INSERT INTO logs(msg) VALUES (?)", [(f"m{i}",) for i in range(1, 6)])
    t.define(db, "logs", "logs", "jsonl", options=incremental("rowid"))
    r1 = t.run(db, "logs")
    assert [r["msg"] for r in file_rows(db, r1)] == ["m1", "m2", "m3", "m4", "m5"]
    assert wm(r1) == (None, 5), wm(r1)
    db.execute("DELETE FROM logs WHERE msg = 'm3'")  # (not the last: SQLite would reuse its rowid)
    db.executemany("INSERT INTO logs(msg) VALUES (?)", [(f"m{i}",) for i in range(6, 9)])
    assert t.scalar(db, "SELECT export_count('logs')") == 3
    r2 = t.run(db, "logs")
    assert [r["msg"] for r in file_rows(db, r2)] == ["m6", "m7", "m8"], file_rows(db, r2)
    assert wm(r2) == (5, 8), wm(r2)
    db.close()


def test_text_timestamp():
    db = t.connect(new_db())
    db.execute("CREATE TABLE changes(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
    db.executemany("INSERT INTO changes VALUES (?, ?, ?)", [(i, f"n{i}", f"2024-01-01T00:00:0{i}Z") for i in range(1, 6)])
    db.execute("INSERT INTO changes VALUES (6, 'never stamped', NULL)")
    t.define(db, "changes", "changes", options=incremental("updated_at"))
    r1 = t.run(db, "changes")
    assert ids_of(db, r1) == [1, 2, 3, 4, 5], ids_of(db, r1)
    assert wm(r1) == (None, "2024-01-01T00:00:05Z"), wm(r1)
    # an updated row comes again, with its new values; a new row too
    db.execute("UPDATE changes SET name = 'renamed', updated_at = '2024-01-02T00:00:00Z' WHERE id = 2")
    db.execute("INSERT INTO changes VALUES (7, 'n7', '2024-01-01T12:00:00Z')")
    r2 = t.run(db, "changes")
    rows = file_rows(db, r2)
    assert [(int(r["id"]), r["name"], r["updated_at"]) for r in rows] == [
        (2, "renamed", "2024-01-02T00:00:00Z"), (7, "n7", "2024-01-01T12:00:00Z")], rows
    assert wm(r2) == ("2024-01-01T00:00:05Z", "2024-01-02T00:00:00Z"), wm(r2)
    shown = json.loads(t.scalar(db, "SELECT export_sql('changes')"))
    assert '"updated_at"' in shown["sql"] and "2024-01-02T00:00:00Z" in shown["params"], shown
    db.close()


def test_fixed_criteria():
    db = t.connect(new_db())
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, kind TEXT, seq INTEGER)")
    # the greatest seq of each batch is a 'keep' row, so the watermark is the same whether it is
    # taken over the matching rows or the whole table
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, "keep" if i % 2 else "drop", i) for i in range(1, 10)])
    crit = json.dumps([{"attribute": "kind", "operator": "IS_EQUAL_TO", "value": "keep"}])
    t.define(db, "keep", "items", options=incremental("seq"), criteria=json.loads(crit))
    r1 = t.run(db, "keep", criteria=None)
    assert ids_of(db, r1) == [1, 3, 5, 7, 9] and wm(r1) == (None, 9), (ids_of(db, r1), wm(r1))
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, "keep" if i % 2 else "drop", i) for i in range(10, 14)])
    assert t.scalar(db, "SELECT export_count('keep')") == 2
    r2 = t.run(db, "keep", criteria=None)
    assert ids_of(db, r2) == [11, 13] and wm(r2) == (9, 13), (ids_of(db, r2), wm(r2))
    db.close()


def test_twenty_runs_with_a_writer():
    path = new_db()
    db = t.connect(path)
    db.execute("CREATE TABLE stream(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    db.executemany("INSERT INTO stream(payload) VALUES (?)", [(f"seed {i}",) for i in range(200)])
    t.define(db, "stream", "stream", "jsonl", options=incremental("id", file_max_rows=40))
    stop = threading.Event()
    errors = []
    inserted = [0]

    def writer():
        w = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            n = 0
            while not stop.is_set():
                w.execute("BEGIN IMMEDIATE")
                k = n % 5 + 1
                w.executemany("INSERT INTO stream(payload) VALUES (?)", [(f"row {n} {j} \"q\",x",) for j in range(k)])
                w.execute("COMMIT")
                inserted[0] += k
                n += 1
                time.sleep(t.scaled(0.001, 0.005))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(repr(e))
        finally:
            w.close()

    th = threading.Thread(target=writer)
    th.start()
    seen = []
    runs = []
    try:
        done_at = inserted[0]
        for i in range(20):
            # The writer commits at least once between two runs (after the last run's
            # snapshot), however the threads are scheduled; more commits land during the runs.
            deadline = time.monotonic() + 30
            while inserted[0] == done_at and time.monotonic() < deadline and th.is_alive():
                time.sleep(0.001)
            # the second half read by two readers at once (export_config('parallel'))
            db.execute("SELECT export_config('parallel', ?)", (1 if i < 10 else 2,))
            info = t.run(db, "stream")
            ids = [r["id"] for r in file_rows(db, info)]
            runs.append((info, ids))
            assert info["number"] == i + 1
            if i == 0:
                assert info["watermark_from"] is None, wm(info)
            else:
                prev = runs[-2][0]
                assert info["watermark_from"] == prev["watermark_to"], (i, wm(prev), wm(info))
            lo, hi = info["watermark_from"] or 0, info["watermark_to"]
            assert all(lo < x <= hi for x in ids), (i, wm(info), ids[:5], ids[-5:])
            assert ids == sorted(ids), i
            seen.extend(ids)
            done_at = inserted[0]
    finally:
        stop.set()
        th.join(timeout=60)
    assert not errors, errors
    assert not th.is_alive()
    last = t.run(db, "stream")  # the rows committed after the 20th run's snapshot
    seen.extend(r["id"] for r in file_rows(db, last))
    table = [r[0] for r in db.execute("SELECT id FROM stream ORDER BY id")]
    assert len(table) == 200 + inserted[0]
    dups = len(seen) - len(set(seen))
    missing = sorted(set(table) - set(seen))
    extra = sorted(set(seen) - set(table))
    assert dups == 0 and not missing and not extra, f"{dups} rows twice, missing {missing[:20]}, not in the table {extra[:20]}"
    busy = sum(1 for info, ids in runs[1:] if ids)
    assert busy == 19, f"only {busy} of runs 2-20 had new rows: the writer did not write between the runs"
    assert sum(info["file_count"] > 1 for info, _ in runs) >= 1  # the first run at least (200 rows, 40 a file)
    print(f"  20 runs + 1: {len(seen)} rows, {inserted[0]} written meanwhile, {busy} runs with new rows")
    db.close()


t.main([test_first_second_full_nulls, test_collation_and_deletes, test_failed_and_aborted_runs_keep_the_watermark, test_rowid, test_text_timestamp,
        test_fixed_criteria, test_twenty_runs_with_a_writer])
