#!/usr/bin/python3
"""Schema migration (issue 17): a database made by the version-1 build is upgraded in place to
schema version 2 on first use, and a database of a newer version is refused.

The version-1 database is tests/fixtures/schema-v1.sql (a `sqlite3 .dump`, made by
tests/fixtures/make-schema-v1.sh with the build of commit 0c44496): table `events` (10 rows);
definitions events_csv (file_max_rows 6), events_jsonl (jsonl, columns, output_name) and
events_small (fixed criteria, max_rows 3); runs events_csv #1 COMPLETE (2 files), #2 ABORTED,
events_jsonl #1 DOWNLOADED, #2 CREATED (queued), events_small #1 FAILED. Its table fixture_files
holds the exported files' bytes: each test writes them into its own folder and rewrites the
paths in _export_files (plain SQL, before the extension is loaded).

  - every row of definitions, runs and files keeps its values (the raw tables' version-1 columns,
    and what exports / export_runs / export_files show); _export_meta.schema_version becomes 2;
    the new columns have their defaults (origin 'manual', next_run_at NULL, skipped_runs 0, ...);
  - the queued run is executed and COMPLETEs; a new run of an old definition gets the next number
    and writes the same bytes as the old run; old files download with their bytes and the old run
    becomes DOWNLOADED;
  - schema_version 99: export_run and INSERT INTO exports are refused with the exact text, and
    nothing in the database changes (its dump is the same before and after, worker included);
  - three processes open the same version-1 database at once and use it: no error, one
    migration (one schema_version row, no column twice), every run completes.
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import exporttest as t

folder = tempfile.mkdtemp(prefix="migration-", dir=os.getcwd())
FIXTURE = os.path.join(t.SOURCE_DIR, "tests", "fixtures", "schema-v1.sql")
FIXTURE_OUT = "/tmp/sqlite-export-v1-fixture/app.db-exports/"  # where the fixture's files were written
FAR = "2999-01-01T00:00:00.000Z"
TABLES = {"_export_definitions": "id", "_export_runs": "id", "_export_files": "id"}
NEW_RUN_COLUMNS = ("origin", "requested_by", "metadata", "scheduled_for", "watermark_from", "watermark_to")
NEW_EXPORT_COLUMNS = ("next_run_at", "skipped_runs", "last_skipped_at")
_count = [0]


def new_db(name=None):
    _count[0] += 1
    sub = os.path.join(folder, name or f"db{_count[0]}")
    os.mkdir(sub)
    return os.path.join(sub, "app.db")


def load_fixture(path):
    """The version-1 database at path, its files in path + '-exports'; returns {file name: bytes}."""
    out = path + "-exports"
    db = sqlite3.connect(path, isolation_level=None)
    with open(FIXTURE, encoding="utf-8") as fh:
        db.executescript(fh.read())
    db.execute("PRAGMA journal_mode = WAL")
    os.makedirs(out)
    contents = {}
    for name, data in db.execute("SELECT name, CAST(bytes AS BLOB) FROM fixture_files").fetchall():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
        contents[name] = data
    db.execute("BEGIN")
    for fid, p, sha, size in db.execute("SELECT id, path, sha256, size_bytes FROM _export_files").fetchall():
        assert p.startswith(FIXTURE_OUT), p
        name = p[len(FIXTURE_OUT):]
        assert hashlib.sha256(contents[name]).hexdigest() == sha and len(contents[name]) == size, name
        db.execute("UPDATE _export_files SET path = ? WHERE id = ?", (os.path.join(out, name), fid))
    # the fixture's runs expire 30 and 60 days after it was made: far in the future instead, so
    # that the worker's purge cannot expire them (and delete their files) whenever this runs
    db.execute("UPDATE _export_runs SET expires_at = ? WHERE expires_at IS NOT NULL", (FAR,))
    db.execute("UPDATE _export_files SET expires_at = ? WHERE expires_at IS NOT NULL", (FAR,))
    db.execute("DROP TABLE fixture_files")
    db.execute("COMMIT")
    assert db.execute("SELECT value FROM _export_meta WHERE key = 'schema_version'").fetchone() == (1,)
    db.close()
    return contents


def plain(path):
    """A connection without the extension."""
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def raw_tables(path, columns=None):
    """{table: (columns, rows ordered by id)} of the extension's tables, read without the extension.
    With columns given ({table: [names]}), only those columns (the version-1 ones)."""
    db = plain(path)
    out = {}
    for table, key in TABLES.items():
        cols = columns[table] if columns else [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        rows = db.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}").fetchall()
        out[table] = (cols, [dict(zip(cols, r)) for r in rows])
    db.close()
    return out


def dump(path):
    db = plain(path)
    text = "\n".join(db.iterdump())
    db.close()
    return text


def rows_of(db, sql, params=()):
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]




def test_rows_kept_and_usable():
    path = new_db()
    contents = load_fixture(path)
    before = raw_tables(path)
    v1_columns = {table: cols for table, (cols, _) in before.items()}
    assert len(before["_export_definitions"][1]) == 3 and len(before["_export_runs"][1]) == 5, before
    assert len(before["_export_files"][1]) == 3

    # workers 0 while looking: the queued run stays queued (a worker waits 500 ms before its first look)
    db = t.connect(path, workers=0)
    defs = rows_of(db, "SELECT * FROM exports ORDER BY id")
    runs = rows_of(db, "SELECT * FROM export_runs ORDER BY id")
    files = rows_of(db, "SELECT * FROM export_files ORDER BY id")

    # the raw tables: every version-1 column of every row has its value (options: every old key)
    after = raw_tables(path, v1_columns)
    meta = plain(path)
    assert meta.execute("SELECT value FROM _export_meta WHERE key = 'schema_version'").fetchall() == [(2,)], \
        meta.execute("SELECT * FROM _export_meta").fetchall()
    meta.close()
    for table in TABLES:
        old_rows, new_rows = before[table][1], after[table][1]
        assert len(new_rows) == len(old_rows), (table, len(old_rows), len(new_rows))
        for old, new in zip(old_rows, new_rows):
            if table == "_export_definitions":
                old, new = dict(old), dict(new)
                old_opts, new_opts = json.loads(old.pop("options")), json.loads(new.pop("options"))
                for k, v in old_opts.items():
                    assert new_opts.get(k, "missing") == v, f"{old['name']}: option {k} was {v!r}, is {new_opts.get(k, 'missing')!r}"
                extra = {k: v for k, v in new_opts.items() if k not in old_opts}
                assert all(v is None for v in extra.values()), f"{old['name']}: options gained non-null {extra}"
            assert new == old, f"{table}: row changed by the migration:\n  before {old}\n  after  {new}"

    # what the tables show: the same values, and the new columns with their defaults
    raw_defs = before["_export_definitions"][1]
    no_schedule = []  # checked last, so that the rest is checked too when this fails
    assert [d["id"] for d in defs] == [d["id"] for d in raw_defs]
    for shown, raw in zip(defs, raw_defs):
        for k in ("id", "name", "source", "columns", "criteria", "format", "created_at", "updated_at"):
            assert shown[k] == raw[k], (raw["name"], k, shown[k], raw[k])
        opts = json.loads(shown["options"])
        for k, v in json.loads(raw["options"]).items():
            assert opts.get(k, "missing") == v, (raw["name"], k, opts.get(k, "missing"), v)
        if "schedule" not in opts or opts["schedule"] is not None:
            no_schedule.append((raw["name"], opts.get("schedule", "missing")))
        assert shown["next_run_at"] is None and shown["skipped_runs"] == 0 and shown["last_skipped_at"] is None, shown
    names = {d["id"]: d["name"] for d in raw_defs}
    raw_runs = before["_export_runs"][1]
    assert [r["id"] for r in runs] == [r["id"] for r in raw_runs]
    for shown, raw in zip(runs, raw_runs):
        for k in ("id", "export_id", "number", "status", "criteria", "sql", "params", "created_at", "started_at",
                  "finished_at", "expires_at", "rows_matched", "rows_written", "bytes_written", "file_count",
                  "attempts", "progress", "failure_reason"):
            assert shown[k] == raw[k], (raw["id"], k, shown[k], raw[k])
        assert shown["export_name"] == names[raw["export_id"]]
        assert shown["origin"] == "manual", shown
        for k in NEW_RUN_COLUMNS[1:]:
            assert shown[k] is None, (k, shown)
    raw_files = before["_export_files"][1]
    # export_files shows the files of COMPLETE, DOWNLOADED and EXPIRED runs: all three here
    assert [f["id"] for f in files] == [f["id"] for f in raw_files]
    for shown, raw in zip(files, raw_files):
        for k in raw:
            if k in shown:
                assert shown[k] == raw[k], (raw["id"], k, shown[k], raw[k])

    # the queued run runs once there is a worker
    by_name = {(names[r["export_id"]], r["number"]): r for r in raw_runs}
    queued = by_name[("events_jsonl", 2)]
    assert queued["status"] == "CREATED"
    db.execute("SELECT export_config('workers', 1)")
    assert t.scalar(db, "SELECT export_wait(?, ?)", (queued["id"], t.WAIT_MS)) == "COMPLETE", t.run_info(db, queued["id"])
    info = t.run_info(db, queued["id"])
    assert info["origin"] == "manual" and info["rows_written"] == 10, info
    (f, data), = t.check_files(db, info, path + "-exports")
    assert os.path.basename(f["path"]) == "events-json-2.jsonl", f["path"]
    got = [json.loads(line) for line in data.decode().splitlines()]
    want = [{"id": i, "kind": k} for i, k in db.execute("SELECT id, kind FROM events ORDER BY id")]
    assert got == want, got

    # a new run of an old definition: the next number, the same bytes as the old run's files
    info = t.run(db, "events_csv")
    assert info["number"] == 3 and info["origin"] == "manual" and info["scheduled_for"] is None, info
    new_files = t.check_files(db, info, path + "-exports")
    assert [os.path.basename(f["path"]) for f, _ in new_files] == ["events_csv-3-1.csv", "events_csv-3-2.csv"], new_files
    assert [d for _, d in new_files] == [contents["events_csv-1-1.csv"], contents["events_csv-1-2.csv"]]
    info = t.run(db, "events_jsonl")
    assert info["number"] == 3, info
    info = t.run(db, "events_small", criteria=None, expect="FAILED")
    assert info["number"] == 2 and info["failure_reason"] == "not_admissible: 10 rows match; the limit is 3", info

    # the old files download with their bytes; the old run becomes DOWNLOADED when both are
    old1 = by_name[("events_csv", 1)]
    old_files = t.files_of(db, old1["id"])
    assert [os.path.basename(f["path"]) for f in old_files] == ["events_csv-1-1.csv", "events_csv-1-2.csv"]
    for i, f in enumerate(old_files):
        assert t.run_info(db, old1["id"])["status"] == "COMPLETE"
        got = t.scalar(db, "SELECT export_download(?)", (f["id"],))
        assert got == contents[os.path.basename(f["path"])], (f["path"], got)
    assert t.run_info(db, old1["id"])["status"] == "DOWNLOADED"
    dl = t.files_of(db, by_name[("events_jsonl", 1)]["id"])[0]
    assert t.scalar(db, "SELECT export_download(?)", (dl["id"],)) == contents["events-json-1.jsonl"]
    # an aborted or failed old run stays as it was
    for key in (("events_csv", 2), ("events_small", 1)):
        shown = t.run_info(db, by_name[key]["id"])
        assert shown["status"] == by_name[key]["status"] and shown["failure_reason"] == by_name[key]["failure_reason"], shown
    # a new definition in the migrated database
    t.define(db, "fresh", "events", "tsv", {"header": False})
    info = t.run(db, "fresh")
    assert info["number"] == 1 and info["rows_written"] == 10, info
    assert t.scalar(db, "PRAGMA integrity_check") == "ok"
    # options shows every option with its default filled in: "schedule": null for the old ones too
    assert not no_schedule, f"old definitions' options do not show \"schedule\": null: {no_schedule}"
    db.close()


V99_RUN = ("export_run: not_admissible: the database holds sqlite-export schema version 99, newer than this "
           "extension's 2; load a newer sqlite-export")
V99_EXPORTS = ("exports: not_admissible: the database holds sqlite-export schema version 99, newer than this "
               "extension's 2; load a newer sqlite-export")


def check_refused(path):
    before = dump(path)
    db = t.connect(path)  # with a worker: it must not touch the database either
    t.expect_error(db, "SELECT export_run('events_csv', '[]')", (), V99_RUN)
    t.expect_error(db, "INSERT INTO exports(name, source) VALUES ('newer', 'events')", (), V99_EXPORTS)
    t.expect_error(db, "SELECT export_run('events_csv', '[]', '{\"requested_by\": \"me\"}')", (), V99_RUN)
    time.sleep(t.scaled(1.5, 3.0))  # past the worker's first look at the database (500 ms after loading)
    db.close()
    after = dump(path)
    assert after == before, "the refused database changed:\n" + "\n".join(
        line for line in sorted(set(after.splitlines()) ^ set(before.splitlines())))
    db = plain(path)
    assert db.execute("SELECT value FROM _export_meta WHERE key = 'schema_version'").fetchall() == [(99,)]
    db.close()


def test_newer_version_refused():
    # a version-1 database whose version says 99: refused, not migrated
    path = new_db()
    load_fixture(path)
    db = plain(path)
    db.execute("UPDATE _export_meta SET value = 99 WHERE key = 'schema_version'")
    db.close()
    check_refused(path)
    # a database of this build (version 2) set to 99 by hand
    path = new_db()
    db = t.connect(path)
    db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT)")
    db.execute("INSERT INTO events VALUES (1, 'a'), (2, 'b')")
    t.define(db, "events_csv", "events")
    t.run(db, "events_csv")
    db.close()
    db = plain(path)
    assert db.execute("SELECT value FROM _export_meta WHERE key = 'schema_version'").fetchall() == [(2,)]
    db.execute("UPDATE _export_meta SET value = 99 WHERE key = 'schema_version'")
    db.close()
    check_refused(path)


CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import exporttest as t
db_path, name, start_at = sys.argv[2], sys.argv[3], float(sys.argv[4])
db = t.connect(db_path)
time.sleep(max(0.0, start_at - time.time()))
t.define(db, name, "events", "jsonl")
run_id = t.scalar(db, "SELECT export_run(?, '[]')", (name,))
status = t.scalar(db, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS))
info = t.run_info(db, run_id)
old = t.scalar(db, "SELECT count(*) FROM export_runs WHERE export_name IN ('events_csv', 'events_jsonl', 'events_small')")
db.close()
print(json.dumps({"status": status, "reason": info["failure_reason"], "rows": info["rows_written"],
                  "origin": info["origin"], "old_runs": old}))
"""


def test_concurrent_first_use():
    path = new_db()
    load_fixture(path)
    script = os.path.join(folder, "child.py")
    with open(script, "w") as fh:
        fh.write(CHILD)
    here = os.path.dirname(os.path.abspath(__file__))
    start_at = time.time() + t.scaled(1.5, 4.0)
    procs = [subprocess.Popen([sys.executable, script, here, path, f"child_{i}", str(start_at)], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    db = t.connect(path)
    time.sleep(max(0.0, start_at - time.time()))
    run_id = t.scalar(db, "SELECT export_run('events_csv', '[]')")
    assert t.scalar(db, "SELECT export_wait(?, ?)", (run_id, t.WAIT_MS)) == "COMPLETE", t.run_info(db, run_id)
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=t.scaled(60, 300))
        assert p.returncode == 0, f"child {i} exited {p.returncode}\nstdout: {out}\nstderr: {err}"
        r = json.loads(out.strip().splitlines()[-1])
        assert r["status"] == "COMPLETE" and r["rows"] == 10 and r["origin"] == "manual", (i, r)
        assert r["old_runs"] >= 5, (i, r)
    assert t.run_info(db, run_id)["number"] == 3
    queued = t.scalar(db, "SELECT id FROM export_runs WHERE export_name = 'events_jsonl' AND number = 2")
    assert t.scalar(db, "SELECT export_wait(?, ?)", (queued, t.WAIT_MS)) == "COMPLETE"
    assert rows_of(db, "SELECT export_name, number, status FROM export_runs WHERE status NOT IN ('COMPLETE', 'DOWNLOADED') "
                       "ORDER BY 1, 2") == [
        {"export_name": "events_csv", "number": 2, "status": "ABORTED"},
        {"export_name": "events_small", "number": 1, "status": "FAILED"}]
    db.close()
    db = plain(path)
    assert db.execute("SELECT key, value FROM _export_meta WHERE key = 'schema_version'").fetchall() == [("schema_version", 2)]
    for table in TABLES:
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        assert len(cols) == len(set(cols)), (table, cols)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    assert t.leftovers(path + "-exports") == []


def test_read_only_version_1():
    """A version-1 database opened read-only cannot be upgraded: reads say so, and why."""
    path = new_db()
    load_fixture(path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(t.MODULE_STEM)
    db.execute("SELECT export_config('workers', 0)")  # its worker (read-write) would upgrade it
    msg = ("the database holds sqlite-export schema version 1, which is upgraded to version 2 on first use; the "
           "upgrade could not run yet (the database was busy or read-only); try again")
    t.expect_error(db, "SELECT name FROM exports", (), "exports: state_conflict: " + msg)
    t.expect_error(db, "SELECT export_count('events_csv')", (), "export_count: state_conflict: " + msg)
    db.close()
    assert plain(path).execute("SELECT value FROM _export_meta WHERE key = 'schema_version'").fetchone() == (1,)


def test_upgrade_inside_a_writing_transaction():
    """The first use is a write statement inside the application's transaction (no worker to
    upgrade first): the upgrade runs inside that statement, and commits or rolls back with it."""
    for outcome in ("ROLLBACK", "COMMIT"):
        path = new_db()
        load_fixture(path)
        db = t.connect(path, workers=0)
        db.execute("BEGIN")
        db.execute("UPDATE exports SET options = json_set(options, '$.expires_days', 7) WHERE name = 'events_csv'")
        assert t.scalar(db, "SELECT value FROM _export_meta WHERE key = 'schema_version'") == 2
        db.execute(outcome)
        version = t.scalar(db, "SELECT value FROM _export_meta WHERE key = 'schema_version'")
        days = t.scalar(db, "SELECT json_extract(options, '$.expires_days') FROM _export_definitions "
                            "WHERE name = 'events_csv'")
        if outcome == "COMMIT":
            assert version == 2 and days == 7, (version, days)
        else:  # rolled back with the application's transaction (and done again at the next use)
            assert version == 1 and days != 7, (version, days)
        db.close()


t.main([test_rows_kept_and_usable, test_newer_version_refused, test_concurrent_first_use,
        test_upgrade_inside_a_writing_transaction, test_read_only_version_1])
