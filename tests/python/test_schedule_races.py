#!/usr/bin/python3
"""Scheduled exports (issue 17) under concurrency: several schedulers, and a due time that comes
while a run is active. (tests/python/scheduletest.py has the clock helpers.)

  - two processes whose schedulers are forced (SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS) to see the
    same due time before either takes the write lock: exactly one run per due time, two rounds;
  - a due time while a run of the definition is RUNNING (slowed by SQLITE_EXPORT_TEST_ROW_DELAY_US)
    is skipped: skipped_runs 1, last_skipped_at the due time, next_run_at the next one, nothing
    queued behind; the next due time after the run ended gets its run. With two workers (one
    idle to look at the schedules) and with one (busy with the run: the scheduler still looks
    about once a second).
"""
import os
import sqlite3
import subprocess
import sys
import time

import exporttest as t
from scheduletest import (folder, MIN, HOUR, POLL_S, QUIET_S, set_offset, real_ms, set_clock, iso, parse_iso,
                           new_app, define_scheduled, definition, runs_of, wait_for, check_scheduled_run)


RACE_CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import exporttest as t
db_path, ctl = sys.argv[2], sys.argv[3]
db = t.connect(db_path)  # the environment holds SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS
with open(ctl + ".ready", "w") as fh:
    fh.write("ready")
last = None
while not os.path.exists(ctl + ".stop"):
    try:
        with open(ctl) as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        text = ""
    if text and text != last:
        got = t.scalar(db, "SELECT export_config('clock_offset_ms', ?)", (int(text),))
        assert got == int(text), got
        last = text
        with open(ctl + ".ack.tmp", "w") as fh:
            fh.write(text)
        os.rename(ctl + ".ack.tmp", ctl + ".ack")
    time.sleep(0.02)
db.close()
print("child done", flush=True)
"""


def test_two_processes_one_run_per_due_time():
    set_offset(0)
    path = new_app()
    delay_ms = t.scaled(2000, 4000)
    setup = t.connect(path, workers=0)
    d = define_scheduled(setup, "race", "every 1 hour")
    setup.close()
    h1 = parse_iso(d["next_run_at"])
    ctl = os.path.join(folder, "race-ctl")
    script = os.path.join(folder, "race_child.py")
    with open(script, "w") as fh:
        fh.write(RACE_CHILD)
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS=str(delay_ms))
    child = subprocess.Popen([sys.executable, script, here, path, ctl], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    os.environ["SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS"] = str(delay_ms)  # read when the service starts
    try:
        db = t.connect(path, workers=1)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS"]
    try:
        wait_for("the child to load the extension", lambda: os.path.exists(ctl + ".ready") or child.poll() is not None,
                 t.scaled(30, 120))
        assert child.poll() is None, f"child exited {child.returncode}: {child.communicate()}"
        for k in range(2):
            due = h1 + k * HOUR
            offset = due + 20 * MIN - real_ms()
            with open(ctl + ".tmp", "w") as fh:
                fh.write(str(offset))
            os.rename(ctl + ".tmp", ctl)
            wait_for("the child to take the offset",
                     lambda: os.path.exists(ctl + ".ack") and open(ctl + ".ack").read() == str(offset), 10)
            set_offset(offset)
            runs = wait_for(f"the run of due time {iso(due)}",
                            lambda: (lambda r: r if len(r) > k else None)(runs_of(db, "race")), POLL_S + delay_ms / 1000)
            check_scheduled_run(db, "race", runs[k], due, k + 1)
            assert t.scalar(db, "SELECT export_wait(?, ?)", (runs[k]["id"], t.WAIT_MS)) == "COMPLETE", runs[k]
            # both schedulers saw the due time and slept delay_ms before taking the write lock: by
            # now the later one has had its turn, and must have found the due time taken
            time.sleep(delay_ms / 1000 + QUIET_S)
            runs = runs_of(db, "race")
            assert [(r["number"], r["scheduled_for"]) for r in runs] == [
                (i + 1, iso(h1 + i * HOUR)) for i in range(k + 1)], f"round {k}: {runs}"
            assert definition(db, "race")["next_run_at"] == iso(due + HOUR)
            assert definition(db, "race")["skipped_runs"] == 0
            assert child.poll() is None, f"child exited {child.returncode}: {child.communicate()}"
    finally:
        with open(ctl + ".stop", "w") as fh:
            fh.write("stop")
        try:
            out, err = child.communicate(timeout=t.scaled(30, 120))
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
        db.close()
        set_offset(0)
    assert child.returncode == 0, f"child exited {child.returncode}\nstdout: {out}\nstderr: {err}"


def skip_case(workers):
    """A due time comes while a manual run of the definition is RUNNING (slowed by the test hook
    SQLITE_EXPORT_TEST_ROW_DELAY_US: 10 s for the table) in a process with `workers` workers."""
    set_offset(0)
    path = new_app()
    rows = 5000
    prep = sqlite3.connect(path, isolation_level=None)
    prep.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT)")
    prep.executemany("INSERT INTO big(v) VALUES (?)", [(f"value {i}",) for i in range(rows)])
    prep.close()
    os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"] = "2000"  # 10 s for the whole table
    try:
        db = t.connect(path, workers=workers)
    finally:
        del os.environ["SQLITE_EXPORT_TEST_ROW_DELAY_US"]
    try:
        d = define_scheduled(db, "slow", "every 1 hour", criteria="[]", source="big")
        h1 = parse_iso(d["next_run_at"])
        manual = t.scalar(db, "SELECT export_run('slow', NULL)")
        wait_for("the manual run to start", lambda: t.run_info(db, manual)["status"] != "CREATED", 30)
        assert t.run_info(db, manual)["status"] == "RUNNING", t.run_info(db, manual)
        set_clock(h1 + 20 * MIN)
        wait_for("skipped_runs to become 1 (or the manual run to end)",
                 lambda: definition(db, "slow")["skipped_runs"] >= 1 or t.run_info(db, manual)["status"] != "RUNNING",
                 t.scaled(30, 120))
        d = definition(db, "slow")
        runs = runs_of(db, "slow")
        assert d["skipped_runs"] == 1, (
            f"with {workers} worker(s): the due time {iso(h1)} came (shifted clock) while run 1 was RUNNING, but it was not "
            f"skipped while the run lasted; skipped_runs {d['skipped_runs']}, runs {[(r['number'], r['status'], r['origin'], r['scheduled_for']) for r in runs]}")
        assert t.run_info(db, manual)["status"] == "RUNNING", (
            "the manual run ended before the due time was seen: the test did not check a skip", t.run_info(db, manual))
        assert d["last_skipped_at"] == iso(h1), d
        assert d["next_run_at"] == iso(h1 + HOUR), d
        time.sleep(QUIET_S)
        runs = runs_of(db, "slow")
        assert [r["id"] for r in runs] == [manual], f"a run was queued behind the running one: {runs}"
        assert definition(db, "slow")["skipped_runs"] == 1
        assert t.scalar(db, "SELECT export_abort(?)", (manual,)) == 1
        assert t.scalar(db, "SELECT export_wait(?, ?)", (manual, t.WAIT_MS)) == "ABORTED"
        # the next due time, with no run active: it runs
        set_clock(h1 + HOUR + 20 * MIN)
        runs = wait_for("the scheduled run after the skip",
                        lambda: (lambda r: r if len(r) >= 2 else None)(runs_of(db, "slow")))
        check_scheduled_run(db, "slow", runs[1], h1 + HOUR, 2)
        t.scalar(db, "SELECT export_abort(?)", (runs[1]["id"],))  # 10 s: not waited for
        assert t.scalar(db, "SELECT export_wait(?, ?)", (runs[1]["id"], t.WAIT_MS)) in ("ABORTED", "COMPLETE")
        d = definition(db, "slow")
        assert d["skipped_runs"] == 1 and d["last_skipped_at"] == iso(h1) and d["next_run_at"] == iso(h1 + 2 * HOUR), d
    finally:
        for r in runs_of(db, "slow"):
            if r["status"] in ("CREATED", "RUNNING"):
                t.scalar(db, "SELECT export_abort(?)", (r["id"],))
        db.close()
        set_offset(0)


def test_skip_while_running():
    """Two workers: one exports, the other is idle and looks at the schedules."""
    skip_case(2)


def test_skip_while_running_one_worker():
    """One worker, busy with the run: the scheduler still looks about once a second (the contract),
    so the due time is skipped rather than run late once the run ends."""
    skip_case(1)


t.main([test_two_processes_one_run_per_due_time, test_skip_while_running, test_skip_while_running_one_worker])
