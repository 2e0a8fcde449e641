#!/usr/bin/python3
"""Scheduled exports (issue 17): option 'schedule', exports.next_run_at / skipped_runs /
last_skipped_at, export_runs.origin / scheduled_for / requested_by / metadata. (Concurrency:
test_schedule_races.py; the clock helpers: scheduletest.py.)

Time moves with the extension's test hook export_config('clock_offset_ms', N) (process-wide: the
clock of the scheduler and of next_run_at, shifted by N ms), never by waiting for minutes to pass.
Each case has its own database and puts the shifted clock 20 minutes past the due time it wants,
so nothing depends on when the test runs.

  - next_run_at: computed at INSERT for intervals, cron and @-forms (UTC, epoch-aligned), shown
    as YYYY-MM-DDTHH:MM:SS.sssZ, follows the shifted clock; options shows the schedule normalised;
    NULL without a schedule, and again once the schedule is removed by UPDATE;
  - a due definition gets one run (origin 'schedule', scheduled_for the due time, the
    definition's fixed criteria) within seconds, and next_run_at moves to the next due time;
  - catch-up after downtime: the due time passed 3 times with no process open: one run, and
    next_run_at is the first due time after now;
  - a process whose service has no worker never enqueues (and does once it gets one);
  - manual runs: origin 'manual', scheduled_for NULL, metadata and requested_by as given;
  - exact errors: bad schedules, a schedule without fixed criteria (INSERT and UPDATE).
"""
import json
import time

import exporttest as t
from scheduletest import (MIN, HOUR, DAY, QUIET_S, scheduled_app, set_offset, real_ms, now_ms, set_clock, iso,
                           parse_iso, next_every, next_weekday_at, new_app, define_scheduled, definition, runs_of, wait_for,
                           check_scheduled_run)


def test_next_run_at():
    with scheduled_app(workers=0) as db:
        cases = [
            ("every 15 minutes", "every 15 minutes", lambda ms: next_every(ms, 15 * MIN)),
            ("EVERY 15 minute", "every 15 minutes", lambda ms: next_every(ms, 15 * MIN)),
            ("every 90 minutes", "every 90 minutes", lambda ms: next_every(ms, 90 * MIN)),
            ("every 1 hour", "every 1 hour", lambda ms: next_every(ms, HOUR)),
            ("every  5\thours", "every 5 hours", lambda ms: next_every(ms, 5 * HOUR)),
            ("every 1 day at 02:00", "every 1 day at 02:00", lambda ms: next_every(ms, DAY, 2 * HOUR)),
            ("every 1 days at 2:00", "every 1 day at 02:00", lambda ms: next_every(ms, DAY, 2 * HOUR)),
            ("every 2 days", "every 2 days", lambda ms: next_every(ms, 2 * DAY)),
            ("0 2 * * *", "0 2 * * *", lambda ms: next_every(ms, DAY, 2 * HOUR)),
            ("*/10 * * * *", "*/10 * * * *", lambda ms: next_every(ms, 10 * MIN)),
            ("0 2 * * mon-fri", "0 2 * * MON-FRI", lambda ms: next_weekday_at(ms, 2, range(0, 5))),
            ("@Daily", "@daily", lambda ms: next_every(ms, DAY)),
            ("@hourly", "@hourly", lambda ms: next_every(ms, HOUR)),
        ]
        for i, (text, shown, nxt) in enumerate(cases):
            before = now_ms()
            d = define_scheduled(db, f"s{i}", text)
            after = now_ms()
            assert json.loads(d["options"])["schedule"] == shown, (text, d["options"])
            want = {iso(nxt(before)), iso(nxt(after))}
            assert d["next_run_at"] in want, f"{text!r}: next_run_at {d['next_run_at']}, expected {sorted(want)}"
            assert d["skipped_runs"] == 0 and d["last_skipped_at"] is None, d
        # no schedule: NULL, and options shows "schedule": null
        t.define(db, "plain", "events")
        d = definition(db, "plain")
        assert d["next_run_at"] is None and d["skipped_runs"] == 0 and d["last_skipped_at"] is None, d
        opts = json.loads(d["options"])
        assert "schedule" in opts and opts["schedule"] is None, opts
        # next_run_at follows the shifted clock: 3 days and 7 minutes ahead
        set_offset(3 * DAY + 7 * MIN)
        before = now_ms()
        d = define_scheduled(db, "shifted", "every 1 hour")
        after = now_ms()
        assert d["next_run_at"] in {iso(next_every(before, HOUR)), iso(next_every(after, HOUR))}, d["next_run_at"]
        assert parse_iso(d["next_run_at"]) > real_ms() + 3 * DAY
        # nothing ran: no worker here
        assert t.scalar(db, "SELECT count(*) FROM export_runs") == 0


def test_schedule_fires():
    with scheduled_app(workers=1) as db:
        d = define_scheduled(db, "hourly", "every 1 hour")
        h1 = parse_iso(d["next_run_at"])
        assert h1 == next_every(h1 - 1, HOUR) and h1 > now_ms(), d
        time.sleep(1.5)  # the scheduler looks about once a second: not due yet, nothing happens
        assert runs_of(db, "hourly") == []
        # the clock is 20 minutes past the due time: one run, within seconds
        set_clock(h1 + 20 * MIN)
        run = wait_for("the scheduled run", lambda: runs_of(db, "hourly"))[0]
        check_scheduled_run(db, "hourly", run, h1, 1)
        assert t.scalar(db, "SELECT export_wait(?, ?)", (run["id"], t.WAIT_MS)) == "COMPLETE", t.run_info(db, run["id"])
        info = t.run_info(db, run["id"])
        assert info["rows_written"] == 10, info  # the fixed criteria: the clicks
        (f, data), = t.check_files(db, info)
        assert data.decode().splitlines()[1:] == [f"{i},click,2024-01-01T00:00:{i:02d}Z" for i in range(1, 21, 2)]
        d = definition(db, "hourly")
        assert d["next_run_at"] == iso(h1 + HOUR), d
        assert d["skipped_runs"] == 0 and d["last_skipped_at"] is None, d
        time.sleep(QUIET_S)
        assert len(runs_of(db, "hourly")) == 1, runs_of(db, "hourly")
        # the next due time: run number 2
        set_clock(h1 + HOUR + 20 * MIN)
        runs = wait_for("the second scheduled run", lambda: (lambda r: r if len(r) >= 2 else None)(runs_of(db, "hourly")))
        check_scheduled_run(db, "hourly", runs[1], h1 + HOUR, 2)
        assert t.scalar(db, "SELECT export_wait(?, ?)", (runs[1]["id"], t.WAIT_MS)) == "COMPLETE"
        assert definition(db, "hourly")["next_run_at"] == iso(h1 + 2 * HOUR)
        time.sleep(QUIET_S)
        assert len(runs_of(db, "hourly")) == 2, runs_of(db, "hourly")
        # a manual run of a scheduled definition is 'manual'
        rid = t.scalar(db, "SELECT export_run('hourly', NULL, '{\"requested_by\": \"ops\"}')")
        assert t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "COMPLETE"
        info = t.run_info(db, rid)
        assert info["origin"] == "manual" and info["scheduled_for"] is None and info["requested_by"] == "ops", info
        assert info["number"] == 3 and info["rows_written"] == 10, info
        assert definition(db, "hourly")["next_run_at"] == iso(h1 + 2 * HOUR)


def test_catch_up_after_downtime():
    set_offset(0)
    path = new_app()
    db = t.connect(path, workers=1)
    d = define_scheduled(db, "catchup", "every 1 hour")
    db.close()
    h1 = parse_iso(d["next_run_at"])
    # no process has the database open while its due time passes three times: h1, h1+1h, h1+2h
    set_clock(h1 + 2 * HOUR + 20 * MIN)
    db = t.connect(path, workers=1)
    try:
        runs = wait_for("the catch-up run", lambda: runs_of(db, "catchup"))
        assert t.scalar(db, "SELECT export_wait(?, ?)", (runs[0]["id"], t.WAIT_MS)) == "COMPLETE"
        time.sleep(QUIET_S)
        runs = runs_of(db, "catchup")
        assert len(runs) == 1, f"expected one catch-up run, got {len(runs)}: {runs}"
        run = runs[0]
        assert run["origin"] == "schedule" and run["number"] == 1, run
        assert run["scheduled_for"] in {iso(h1), iso(h1 + HOUR), iso(h1 + 2 * HOUR)}, run["scheduled_for"]
        d = definition(db, "catchup")
        assert d["next_run_at"] == iso(h1 + 3 * HOUR), d
        assert d["skipped_runs"] == 0 and d["last_skipped_at"] is None, d  # missed while closed: not "skipped"
    finally:
        db.close()
        set_offset(0)


def test_no_worker_never_enqueues():
    with scheduled_app(workers=0) as db:
        d = define_scheduled(db, "idle", "every 1 hour")
        h1 = parse_iso(d["next_run_at"])
        set_clock(h1 + 20 * MIN)
        time.sleep(QUIET_S + 1)
        assert runs_of(db, "idle") == [], runs_of(db, "idle")
        d = definition(db, "idle")
        assert d["skipped_runs"] == 0, d
        # once this process's service has a worker, the due time gets its run
        db.execute("SELECT export_config('workers', 1)")
        run = wait_for("the run once there is a worker", lambda: runs_of(db, "idle"))[0]
        check_scheduled_run(db, "idle", run, h1, 1)
        assert t.scalar(db, "SELECT export_wait(?, ?)", (run["id"], t.WAIT_MS)) == "COMPLETE"


def test_manual_run_metadata():
    with scheduled_app(workers=1) as db:
        t.define(db, "m", "events")
        meta = {"requested_by": "alice", "ticket": 42, "tags": ["a", "b"], "nested": {"x": None}}
        rid = t.scalar(db, "SELECT export_run('m', '[]', ?)", (json.dumps(meta),))
        assert t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "COMPLETE"
        info = t.run_info(db, rid)
        assert info["origin"] == "manual" and info["scheduled_for"] is None and info["requested_by"] == "alice", info
        assert json.loads(info["metadata"]) == meta, info["metadata"]
        assert info["watermark_from"] is None and info["watermark_to"] is None, info  # not incremental
        for third in (None, "{}", '{"ticket": 7}'):
            rid = t.scalar(db, "SELECT export_run('m', '[]', ?)", (third,))
            assert t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "COMPLETE"
            info = t.run_info(db, rid)
            assert info["origin"] == "manual" and info["requested_by"] is None, info
            if third is None:
                assert info["metadata"] is None, info
            else:
                assert json.loads(info["metadata"]) == json.loads(third), info
        rid = t.scalar(db, "SELECT export_run('m', '[]')")
        assert t.scalar(db, "SELECT export_wait(?, ?)", (rid, t.WAIT_MS)) == "COMPLETE"
        info = t.run_info(db, rid)
        assert info["metadata"] is None and info["requested_by"] is None and info["origin"] == "manual", info
        n = t.scalar(db, "SELECT count(*) FROM export_runs")
        bad = "export_run: invalid_request: "
        t.expect_error(db, "SELECT export_run('m', '[]', '[1]')", (), bad + "argument 3 (metadata) must be a JSON object or NULL, not [1]")
        t.expect_error(db, "SELECT export_run('m', '[]', ?)", ('{"requested_by": 5}',), bad + "metadata 'requested_by' must be a string, not 5")
        t.expect_error(db, "SELECT export_run('m', '[]', ?)", ('{"full": "yes"}',), bad + "metadata 'full' must be true or false, not \"yes\"")
        t.expect_error(db, "SELECT export_run('m', '[]', ?)", ('{"full": true}',), bad + "metadata 'full' is only for an export with option 'incremental'")
        assert t.scalar(db, "SELECT count(*) FROM export_runs") == n, "a refused export_run queued a run"


def test_remove_and_change_schedule():
    with scheduled_app(workers=0) as db:
        d = define_scheduled(db, "rm", "every 15 minutes")
        assert d["next_run_at"] is not None
        db.execute("UPDATE exports SET options = json_set(options, '$.schedule', NULL) WHERE name = 'rm'")
        d = definition(db, "rm")
        assert d["next_run_at"] is None and json.loads(d["options"])["schedule"] is None, d
        before = now_ms()
        db.execute("UPDATE exports SET options = json_set(options, '$.schedule', '@daily') WHERE name = 'rm'")
        after = now_ms()
        d = definition(db, "rm")
        assert json.loads(d["options"])["schedule"] == "@daily", d
        assert d["next_run_at"] in {iso(next_every(before, DAY)), iso(next_every(after, DAY))}, d
        db.execute("UPDATE exports SET options = json_remove(options, '$.schedule') WHERE name = 'rm'")
        d = definition(db, "rm")
        assert d["next_run_at"] is None and json.loads(d["options"])["schedule"] is None, d
        # the scheduled definition keeps its fixed criteria
        db.execute("UPDATE exports SET options = json_set(options, '$.schedule', 'every 1 hour') WHERE name = 'rm'")
        t.expect_error(db, "UPDATE exports SET criteria = NULL WHERE name = 'rm'", (),
                     "exports: invalid_request: option 'schedule' needs criteria fixed in the definition (a scheduled run "
                     "gives none); set criteria, '[]' for every row")
        d = definition(db, "rm")
        assert json.loads(d["options"])["schedule"] == "every 1 hour" and d["criteria"] is not None, d


def test_errors():
    with scheduled_app(workers=0) as db:
        ins = "INSERT INTO exports(name, source, criteria, options) VALUES ('bad', 'events', ?, ?)"
        pre = "exports: invalid_request: option 'schedule'"
        cases = [
            ("every day", pre + " must be \"every N minutes|hours|days [at HH:MM]\", a 5-field cron expression \"minute hour "
                          "day-of-month month day-of-week\" or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, "
                          "@annually, not \"every day\""),
            ("every 2 weeks", pre + ": the unit in \"every N ...\" must be minutes, hours or days (or minute, hour, day), not "
                              "\"weeks\" in \"every 2 weeks\""),
            ("every 0 minutes", pre + ": \"every N minutes\" must have N from 1 to 525600 (one year), not 0 in \"every 0 minutes\""),
            ("every 2 hours at 02:00", pre + ": \"at HH:MM\" goes with days only, not with hours in \"every 2 hours at 02:00\""),
            ("0 24 * * *", pre + ": cron field 'hour' must be 0-23, not 24 in \"0 24 * * *\""),
            ("0 0 31 2 *", pre + ": \"0 0 31 2 *\" never fires (no date matches its day-of-month, month and day-of-week)"),
            ("@reboot", pre + " must be one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually (no other "
                        "@-form), not \"@reboot\""),
        ]
        for text, message in cases:
            t.expect_error(db, ins, ("[]", json.dumps({"schedule": text})), message)
        t.expect_error(db, ins, (None, json.dumps({"schedule": "every 15 minutes"})),
                     "exports: invalid_request: option 'schedule' needs criteria fixed in the definition (a scheduled run "
                     "gives none); set criteria, '[]' for every row")
        assert t.scalar(db, "SELECT count(*) FROM exports") == 0


t.main([test_next_run_at, test_schedule_fires, test_catch_up_after_downtime, test_no_worker_never_enqueues,
        test_manual_run_metadata, test_remove_and_change_schedule, test_errors])
