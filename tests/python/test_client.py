#!/usr/bin/python3
"""The embedding application: Python's standard sqlite3 module uses sqlite-export as an application
would (SPEC 1, 3, 4, 7, 8, guarantees 1, 2, 8).

  - load with Connection.load_extension; export_version(); the eponymous tables exist;
  - define, run, wait, download: the run becomes COMPLETE, then DOWNLOADED once every file is
    downloaded; export_runs / export_files agree with the files on disk;
  - every error is a sqlite3.OperationalError whose text is SPEC 8's "<function>: <code>: <message>",
    and a rejected call writes nothing;
  - transactional enqueue, export_wait with a timeout, export_abort;
  - SQLITE_DIRECTONLY: a view cannot call export_run;
  - two Python threads, each with its own connection to the same database, define, run, wait and
    download at the same time while writing to the database;
  - closing a connection during a run returns promptly, and the run is queued again and completed
    by the next connection that loads the extension.
"""
import json
import os
import sqlite3
import tempfile
import threading
import time

import exporttest as t

folder = tempfile.mkdtemp(prefix="client-", dir=os.getcwd())
DB_PATH = os.path.join(folder, "app.db")
DEFAULT_OUT = DB_PATH + "-exports"

db = t.connect(DB_PATH)
db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, payload TEXT)")
db.execute("BEGIN")
db.executemany("INSERT INTO events(kind, payload) VALUES (?, ?)",
               [("click" if i % 2 else "view", json.dumps({"n": i, "s": "a,\"b\"\n"})) for i in range(1000)])
db.execute("COMMIT")
CLICKS = json.dumps([{"attribute": "kind", "operator": "IS_EQUAL_TO", "value": "click"}])


def test_load():
    version = t.scalar(db, "SELECT export_version()")
    assert isinstance(version, str) and version[:1].isdigit(), version
    for table in ("exports", "export_runs", "export_files"):
        assert t.scalar(db, f"SELECT count(*) FROM {table}") == 0, table
    # loading into a second connection of the same process works too
    other = t.connect(DB_PATH)
    assert t.scalar(other, "SELECT export_version()") == version
    other.close()


def test_define_run_wait_download():
    t.define(db, "events", "events", "jsonl")
    opts = json.loads(t.scalar(db, "SELECT options FROM exports WHERE name = 'events'"))
    assert opts.get("header") is True and opts.get("compression") == "none", opts  # defaults filled in
    start = time.monotonic()
    run_id = t.scalar(db, "SELECT export_run('events', ?)", (CLICKS,))
    took = time.monotonic() - start
    assert isinstance(run_id, str) and run_id, run_id
    assert took < t.scaled(1.0, 5.0), f"export_run took {took:.2f}s"
    status = t.scalar(db, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS))
    info = t.run_info(db, run_id)
    assert status == "COMPLETE", (status, info["failure_reason"])
    assert info["export_name"] == "events" and info["number"] == 1, info
    assert info["rows_matched"] == info["rows_written"] == 500 and info["file_count"] == 1, info
    assert info["progress"] == 1.0 and info["started_at"] and info["finished_at"] >= info["started_at"], info
    assert json.loads(info["criteria"]) == json.loads(CLICKS), info["criteria"]
    (f, data), = t.check_files(db, info, DEFAULT_OUT)
    assert os.path.basename(f["path"]) == "events-1.jsonl", f["path"]
    assert f["downloaded_at"] is None
    downloaded = t.scalar(db, "SELECT export_download(?)", (f["id"],))
    assert isinstance(downloaded, bytes) and downloaded == data
    rows = [json.loads(line) for line in downloaded.decode().splitlines()]
    want = db.execute("SELECT id, kind, payload FROM events WHERE kind = 'click' ORDER BY id").fetchall()
    assert [(r["id"], r["kind"], r["payload"]) for r in rows] == want
    assert t.run_info(db, run_id)["status"] == "DOWNLOADED"
    assert t.files_of(db, run_id)[0]["downloaded_at"] is not None
    # another connection sees the run and can wait for a run this one started
    other = t.connect(DB_PATH, workers=0)
    assert t.run_info(other, run_id)["status"] == "DOWNLOADED"
    rid2 = t.scalar(db, "SELECT export_run('events', '[]')")
    assert t.scalar(other, "SELECT export_wait(?, ?)", (rid2, t.WAIT_MS)) == "COMPLETE"
    assert t.run_info(other, rid2)["rows_written"] == 1000
    other.close()
    assert t.scalar(db, "SELECT export_download(?)", (f["id"],)) == data  # again: still the bytes

    # several parts: DOWNLOADED only once every part is downloaded
    t.define(db, "events_parts", "events", "csv", {"file_max_rows": 600})
    info = t.run(db, "events_parts")
    files = t.check_files(db, info, DEFAULT_OUT)
    assert [os.path.basename(f["path"]) for f, _ in files] == ["events_parts-1-1.csv", "events_parts-1-2.csv"], files
    assert t.scalar(db, "SELECT export_download(?)", (files[0][0]["id"],)) == files[0][1]
    assert t.run_info(db, info["id"])["status"] == "COMPLETE"
    assert t.scalar(db, "SELECT export_download(?)", (files[1][0]["id"],)) == files[1][1]
    assert t.run_info(db, info["id"])["status"] == "DOWNLOADED"

    # a run that fails: max_rows
    t.define(db, "events_small", "events", "csv", {"max_rows": 10})
    info = t.run(db, "events_small", expect="FAILED")
    assert info["failure_reason"].startswith("not_admissible: ") and "1000" in info["failure_reason"], info["failure_reason"]
    assert t.files_of(db, info["id"]) == []


def expect_error(sql, params, prefix, exact=False, contains=()):
    try:
        db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        assert type(e) is sqlite3.OperationalError, type(e)
        msg = str(e)
        if exact:
            assert msg == prefix, f"{sql}: error {msg!r}, expected {prefix!r}"
        else:
            assert msg.startswith(prefix), f"{sql}: error {msg!r}, expected it to start with {prefix!r}"
        for c in contains:
            assert c in msg, f"{sql}: error {msg!r} does not mention {c!r}"
        assert getattr(e, "sqlite_errorname", "SQLITE_ERROR") == "SQLITE_ERROR", e.sqlite_errorname
        return msg
    except sqlite3.Error as e:
        raise AssertionError(f"{sql}: {type(e).__name__} {e}, expected sqlite3.OperationalError")
    raise AssertionError(f"{sql}: no error, expected {prefix!r}")


def state():
    return [db.execute(f"SELECT count(*) FROM {x}").fetchone()[0] for x in ("exports", "export_runs", "export_files")] + \
        [db.execute("SELECT group_concat(name || options, '|') FROM exports").fetchone()[0]]


def test_errors():
    before = state()
    expect_error("SELECT export_run('nope', '[]')", (), "export_run: not_found: no export with id or name 'nope'", exact=True)
    expect_error("SELECT export_run('events')", (), "export_run: invalid_request: ", contains=("'events'",))
    expect_error("SELECT export_run('events', ?)",
                 (json.dumps([{"attribute": "kind", "operator": "EQUALS", "value": "click"}]),),
                 "export_run: invalid_request: unknown operator 'EQUALS'", contains=("IS_EQUAL_TO", "IS_NOT_EMPTY"))
    expect_error("SELECT export_run('events', ?)", (json.dumps([{"attribute": "nope", "operator": "IS_EMPTY"}]),),
                 "export_run: invalid_request: unknown attribute 'nope'", contains=("id, kind, payload",))
    expect_error("SELECT export_run('events', 'not json')", (), "export_run: invalid_request: ")
    expect_error("SELECT export_wait('nope')", (), "export_wait: not_found: no run with id 'nope'", exact=True)
    expect_error("SELECT export_abort('nope')", (), "export_abort: not_found: no run with id 'nope'", exact=True)
    expect_error("SELECT export_download('nope')", (), "export_download: not_found: no file with id 'nope'", exact=True)
    expect_error("SELECT export_config('bogus')", (), "export_config: invalid_request: unknown setting 'bogus'",
                 contains=("output_dir", "workers"))
    expect_error("SELECT export_config('workers', -1)", (), "export_config: invalid_request: ", contains=("workers",))
    ins = "INSERT INTO exports(name, source, format, options) VALUES (?, ?, ?, ?)"
    expect_error(ins, ("x", "events", "xml", None), "exports: invalid_request: ", contains=("'xml'", "csv", "jsonl"))
    expect_error(ins, ("x", "missing_table", "csv", None), "exports: invalid_request: ", contains=("missing_table",))
    expect_error(ins, ("x", "DELETE FROM events", "csv", None), "exports: invalid_request: ", contains=("read-only",))
    expect_error(ins, ("x", "events", "csv", '{"bogus": 1}'), "exports: invalid_request: ", contains=("bogus",))
    expect_error(ins, ("x", "events", "csv", '{"header": "yes"}'), "exports: invalid_request: ", contains=("header",))
    expect_error(ins, ("events", "events", "csv", None), "exports: invalid_request: ", contains=("'events'",))
    expect_error("UPDATE export_runs SET status = 'COMPLETE'", (), "export_runs: invalid_request: ")
    assert state() == before, f"a rejected call changed something: {before} -> {state()}"
    # SQLITE_DIRECTONLY: the database's own views cannot start runs
    db.execute("CREATE VIEW sneaky AS SELECT export_run('events', '[]') AS r")
    try:
        db.execute("SELECT * FROM sneaky").fetchall()
        raise AssertionError("a view could call export_run")
    except sqlite3.OperationalError as e:
        assert "unsafe use of export_run" in str(e), str(e)
    db.execute("DROP VIEW sneaky")
    assert state() == before


def test_queue_transaction_wait_abort():
    db.execute("SELECT export_config('workers', 0)")
    try:
        n_runs = t.scalar(db, "SELECT count(*) FROM export_runs")
        db.execute("BEGIN")
        rid = t.scalar(db, "SELECT export_run('events', '[]')")
        db.execute("ROLLBACK")
        assert t.scalar(db, "SELECT count(*) FROM export_runs") == n_runs, "a rolled-back run exists"
        assert t.scalar(db, "SELECT count(*) FROM export_runs WHERE id = ?", (rid,)) == 0
        db.execute("BEGIN")
        rid = t.scalar(db, "SELECT export_run('events', '[]')")
        db.execute("COMMIT")
        start = time.monotonic()
        assert t.scalar(db, "SELECT export_wait(?, 150)", (rid,)) == "CREATED"
        assert time.monotonic() - start >= 0.1
        expect_error("SELECT export_run('events', '[]')", (), "export_run: state_conflict: export 'events' already has run ",
                     contains=("CREATED",))
        expect_error("UPDATE exports SET format = 'csv' WHERE name = 'events'", (), "exports: state_conflict: ",
                     contains=("'events'",))
        expect_error("DELETE FROM exports WHERE name = 'events'", (), "exports: state_conflict: ")
        assert t.scalar(db, "SELECT export_abort(?)", (rid,)) == 1
        assert t.run_info(db, rid)["status"] == "ABORTED"
        assert t.scalar(db, "SELECT export_abort(?)", (rid,)) == 0
        assert t.scalar(db, "SELECT export_wait(?)", (rid,)) == "ABORTED"
        rid = t.scalar(db, "SELECT export_run('events', '[]')")
    finally:
        db.execute("SELECT export_config('workers', 1)")
    # the queued run is picked up once a worker runs again
    assert t.scalar(db, "SELECT export_wait(?, ?)", (rid,  t.WAIT_MS)) == "COMPLETE", t.run_info(db, rid)


def test_two_threads():
    db.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, who TEXT, at REAL)")
    runs_each = t.scaled(6, 3)
    errors = []
    barrier = threading.Barrier(2)

    def worker(who, fmt, crit):
        conn = None
        try:
            conn = t.connect(DB_PATH)
            barrier.wait(timeout=30)
            t.define(conn, f"thread_{who}", "events", fmt, {"exclusive": True})
            want = t.scalar(conn, "SELECT export_count(?, ?)", (f"thread_{who}", crit))
            for i in range(runs_each):
                conn.execute("INSERT INTO log(who, at) VALUES (?, ?)", (who, time.time()))
                info = t.run(conn, f"thread_{who}", crit)
                assert info["number"] == i + 1, info
                assert info["rows_written"] == want, (info["rows_written"], want)
                for f, data in t.check_files(conn, info, DEFAULT_OUT):
                    got = t.scalar(conn, "SELECT export_download(?)", (f["id"],))
                    assert got == data, f"thread {who}: download differs"
                    lines = got.decode().splitlines()
                    assert len(lines) == want + (1 if fmt == "csv" else 0), (len(lines), want)
                assert t.run_info(conn, info["id"])["status"] == "DOWNLOADED"
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            import traceback
            errors.append(f"thread {who}: {e!r}\n{traceback.format_exc()}")
            try:
                barrier.abort()
            except Exception:
                pass
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=worker, args=("a", "csv", CLICKS)),
               threading.Thread(target=worker, args=("b", "jsonl", "[]"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=t.scaled(120, 600))
    assert not any(th.is_alive() for th in threads), "a thread is still running (hang?)"
    assert not errors, "\n".join(errors)
    assert t.scalar(db, "SELECT count(*) FROM log") == 2 * runs_each
    rows = db.execute("SELECT export_name, count(*), max(number), min(status), max(status) FROM export_runs "
                      "WHERE export_name LIKE 'thread_%' GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(f"thread_{w}", runs_each, runs_each, "DOWNLOADED", "DOWNLOADED") for w in "ab"], rows
    assert t.leftovers(DEFAULT_OUT) == []


def test_close_during_run_requeues():
    """Closing a connection while its worker is exporting returns promptly (guarantee 8); the run is
    queued again and the next connection's worker completes it."""
    rows = 3000  # ~3 s at 1 ms per row: long enough to close the connection in the middle
    db.execute("CREATE TABLE slow(id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("BEGIN")
    db.executemany("INSERT INTO slow(v) VALUES (?)", [(f"value {i}",) for i in range(rows)])
    db.execute("COMMIT")
    t.define(db, "slow", "slow", "csv")
    db.execute("SELECT export_config('workers', 0)")  # only the slow connection below runs it
    os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"] = "1000"  # read when a connection loads the extension
    try:
        slow = t.connect(DB_PATH)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"]
    rid = t.scalar(slow, "SELECT export_run('slow', '[]')")
    deadline = time.monotonic() + 30
    while t.run_info(db, rid)["status"] == "CREATED" and time.monotonic() < deadline:
        time.sleep(0.02)
    info = t.run_info(db, rid)
    assert info["status"] == "RUNNING", (
        f"the slow run is {info['status']} ({info['failure_reason']}), expected RUNNING; this test slows the worker with "
        "the extension's test hook SQLITE_EXPORT_TEST_ROW_DELAY_US (ext/service.cpp): is it still there?")
    time.sleep(0.3)
    start = time.monotonic()
    slow.close()
    took = time.monotonic() - start
    assert took < t.scaled(3.0, 10.0), f"closing the connection during a run took {took:.1f}s"
    info = t.run_info(db, rid)
    assert info["status"] == "CREATED", f"after close the run is {info['status']} ({info['failure_reason']}), expected CREATED"
    assert t.leftovers(DEFAULT_OUT) == [], f"partial files left after close: {t.leftovers(DEFAULT_OUT)}"
    assert not os.path.exists(os.path.join(DEFAULT_OUT, "slow-1.csv"))
    db.execute("SELECT export_config('workers', 1)")
    assert t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "COMPLETE", t.run_info(db, rid)
    info = t.run_info(db, rid)
    (f, data), = t.check_files(db, info, DEFAULT_OUT)
    assert info["rows_written"] == rows and data.count(b"\n") == rows + 1, (info["rows_written"], rows)


t.main([test_load, test_define_run_wait_download, test_errors, test_queue_transaction_wait_abort, test_two_threads,
        test_close_during_run_requeues])
