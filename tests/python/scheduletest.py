"""Shared helpers of the schedule tests (tests/python/test_schedule.py, test_schedule_races.py).

Not a test itself. Time moves with the extension's test hook export_config('clock_offset_ms', N)
(process-wide: the clock of the scheduler and of next_run_at, shifted by N ms), never by waiting
for minutes to pass. Importing this module makes a temporary folder and one connection `clock` to
a scratch database there (no worker), through which set_offset / set_clock shift this process's
clock; each case puts the shifted clock 20 minutes past the due time it wants, so nothing
depends on when the test runs.
"""
import calendar
import contextlib
import json
import os
import re
import sqlite3
import tempfile
import time

import exporttest as t

folder = tempfile.mkdtemp(prefix="schedule-", dir=os.getcwd())
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
CLICKS = json.dumps([{"attribute": "kind", "operator": "IS_EQUAL_TO", "value": "click"}])
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
POLL_S = t.scaled(15, 60)          # how long a case waits for the scheduler (it looks about once a second)
QUIET_S = t.scaled(2.0, 5.0)       # how long a case waits to see that nothing more happens

clock = t.connect(os.path.join(folder, "clock.db"), workers=0)
_offset = [0]
_count = [0]


def set_offset(ms):
    ms = int(ms)
    got = t.scalar(clock, "SELECT export_config('clock_offset_ms', ?)", (ms,))
    assert got == ms, f"export_config('clock_offset_ms', {ms}) returned {got!r}"
    assert t.scalar(clock, "SELECT export_config('clock_offset_ms')") == ms
    _offset[0] = ms
    return ms


def real_ms():
    return int(time.time() * 1000)


def now_ms():
    """The extension's shifted clock."""
    return real_ms() + _offset[0]


def set_clock(target_ms):
    """Shifts the clock so that it reads target_ms now; returns the offset."""
    return set_offset(target_ms - real_ms())


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def parse_iso(text):
    assert isinstance(text, str) and ISO_RE.match(text), f"not a YYYY-MM-DDTHH:MM:SS.sssZ time: {text!r}"
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(text[20:23])


def next_every(ms, period, phase=0):
    """The first time strictly after ms that is phase + a multiple of period since the epoch."""
    return (ms - phase) // period * period + period + phase


def next_weekday_at(ms, hour, weekdays):
    """The first hour:00 UTC strictly after ms on one of weekdays (0 = Monday)."""
    day = ms // DAY * DAY
    while True:
        cand = day + hour * HOUR
        if cand > ms and time.gmtime(cand // 1000).tm_wday in weekdays:
            return cand
        day += DAY


def new_app(rows=20):
    """A database with table events: rows rows, every other one a click."""
    _count[0] += 1
    sub = os.path.join(folder, f"db{_count[0]}")
    os.mkdir(sub)
    path = os.path.join(sub, "app.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, updated_at TEXT)")
    db.executemany("INSERT INTO events VALUES (?, ?, ?)",
                   [(i, "click" if i % 2 else "view", f"2024-01-01T00:00:{i % 60:02d}Z") for i in range(1, rows + 1)])
    db.close()
    return path


@contextlib.contextmanager
def scheduled_app(workers):
    """A connection with the extension to a new app database (new_app) with that many workers,
    the clock offset at 0 before and after; closed at the end."""
    set_offset(0)
    db = t.connect(new_app(), workers=workers)
    try:
        yield db
    finally:
        db.close()
        set_offset(0)


def define_scheduled(db, name, schedule, criteria=CLICKS, source="events", options=None):
    opts = dict(options or {})
    opts["schedule"] = schedule
    db.execute("INSERT INTO exports(name, source, criteria, options) VALUES (?, ?, ?, ?)",
               (name, source, criteria, json.dumps(opts)))
    return definition(db, name)


def definition(db, name):
    cur = db.execute("SELECT * FROM exports WHERE name = ?", (name,))
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, name
    return dict(zip(names, row))


def runs_of(db, name):
    cur = db.execute("SELECT * FROM export_runs WHERE export_name = ? ORDER BY number", (name,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def wait_for(what, pred, timeout=POLL_S):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(0.1)




def check_scheduled_run(db, name, run, due_ms, number):
    assert run["origin"] == "schedule", run
    assert run["scheduled_for"] == iso(due_ms), f"scheduled_for {run['scheduled_for']}, expected {iso(due_ms)}"
    assert run["number"] == number, run
    assert run["requested_by"] is None, run
    # the run gives no criteria of its own (as a manual run with NULL): the definition's fixed ones apply
    assert run["criteria"] is None or json.loads(run["criteria"]) == json.loads(definition(db, name)["criteria"]), \
        run["criteria"]
