#!/usr/bin/python3
"""side.py: the benchmark's side measurements while a large export runs (bench/run.sh).

    /usr/bin/python3 bench/side.py latency     DB MODULE OUT_DIR --calls 1000 --big-runs M
    /usr/bin/python3 bench/side.py commit-rate DB MODULE OUT_DIR --seconds 2 --rounds 2 --big-runs M

Both print one JSON object on stdout. DB must hold the definitions bench.py creates:
`bench_big` (the whole `orders` table, option exclusive = false) and `bench_small` (a 100-row
table, exclusive = false). "A large export running" is M runs of `bench_big` queued at once,
which one worker executes back to back (oldest first), so the export keeps running for M
times the duration of one whole-table export; the report says how many of the measured calls
or seconds actually overlapped it.

latency: connection B loads the extension and sets export_config('workers', 0), so its runs
only queue. B first times BASELINE calls with no export running (then deletes those runs);
connection A (same process, its own worker) then queues the big runs. Once one is RUNNING, B
times CALLS calls of `SELECT export_run('bench_small', '[]')`. Afterwards every
queued or running run of both definitions is aborted and deleted (with its files).

commit-rate: an application connection (plain Python sqlite3, no extension, WAL, SQLite's
default synchronous) commits single-row INSERTs into bench_app_events (each one timed: p50 and
p99 of the commits' durations, pooled by kind of window) as fast as it can for
SECONDS, alternately without and with a big export running in another process (a sqlite3
shell), and, for comparison, while a `sqlite3 -csv` shell reads the whole table in a loop (the
alternative). ROUNDS triples. The fractions are the medians of each round's own ratios (the
round's rate with an export over the same round's rate without): this VM's baseline rate drifts
by 2x from one minute to the next, so a ratio of medians taken from different rounds mixes that
drift into the result. The medians of the rates are reported too.

Must run under Debian's /usr/bin/python3, whose sqlite3 module can load extensions.
"""
import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

POLL_S = 0.005


def connect(db, module=None, workers=None, out_dir=None):
    """Open db in autocommit mode; optionally load the extension and set workers/output_dir."""
    c = sqlite3.connect(db, isolation_level=None, timeout=10.0, check_same_thread=False)
    if module:
        c.enable_load_extension(True)
        c.load_extension(module)
        c.enable_load_extension(False)
        if workers is not None:
            c.execute("SELECT export_config('workers', ?)", (workers,)).fetchone()
        if out_dir:
            c.execute("SELECT export_config('output_dir', ?)", (out_dir,)).fetchone()
    return c


def iso_to_epoch(s):
    """'2026-01-02T03:04:05.678Z' -> seconds since the epoch (float)."""
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def wait_until(pred, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


def count(c, sql, args=()):
    return c.execute(sql, args).fetchone()[0]


def big_running(c):
    return count(c, "SELECT count(*) FROM export_runs WHERE export_name = 'bench_big' AND status = 'RUNNING'") > 0


def big_pending(c):
    return count(c, "SELECT count(*) FROM export_runs WHERE export_name = 'bench_big' "
                    "AND status IN ('CREATED', 'RUNNING')") > 0


def clean_up(c, names, before_delete=None):
    """Abort every queued or running run of the definitions in names, wait until they have
    stopped, call before_delete() if given, then delete them all (with their files)."""
    marks = ",".join("?" * len(names))
    c.execute(f"UPDATE export_runs SET status = 'ABORTED' WHERE export_name IN ({marks}) "
              "AND status IN ('CREATED', 'RUNNING')", names)
    wait_until(lambda: count(c, f"SELECT count(*) FROM export_runs WHERE export_name IN ({marks}) "
                                "AND status IN ('CREATED', 'RUNNING')", names) == 0, 30, "aborted runs to stop")
    if before_delete:
        before_delete()
    ids = [r[0] for r in c.execute(f"SELECT id FROM export_runs WHERE export_name IN ({marks})", names)]
    c.execute("BEGIN IMMEDIATE")
    try:
        for run_id in ids:
            c.execute("DELETE FROM export_runs WHERE id = ?", (run_id,))
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    return len(ids)


def app_window(app, seconds, latencies=None):
    """The application: single-row INSERTs committed as fast as it can for seconds; the rate.
    Each commit's duration (ms) is appended to latencies when a list is given."""
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    now = t0
    while now < end:
        app.execute("INSERT INTO bench_app_events(at, note) VALUES (?, 'bench')", (time.time(),))
        n += 1
        done = time.perf_counter()
        if latencies is not None:
            latencies.append((done - now) * 1000.0)
        now = done
    return n / (time.perf_counter() - t0)


def big_export_script(out_dir, big_runs, set_up=""):
    """SQL for a sqlite3 shell: queue big_runs runs of bench_big in one transaction (so that
    queueing costs the application one commit only), then wait for the last one."""
    out_sql = out_dir.replace("'", "''")
    return (f"SELECT export_config('output_dir', '{out_sql}'); {set_up}BEGIN IMMEDIATE; "
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < "
            f"{big_runs}) SELECT count(export_run('bench_big', '[]')) FROM c; COMMIT; "
            "SELECT export_wait(id) FROM export_runs WHERE export_name = 'bench_big' "
            "ORDER BY number DESC LIMIT 1;")


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def latency(a):
    b = connect(a.db, a.module, workers=0, out_dir=a.out_dir)  # first, so its worker stops before any run exists
    if a.synchronous:
        b.execute(f"PRAGMA synchronous = {a.synchronous}")
    # Baseline: the same calls with no export running (and no worker in this process yet).
    base = []
    for _ in range(a.baseline_calls):
        t0 = time.perf_counter()
        b.execute("SELECT export_run('bench_small', '[]')").fetchone()
        base.append((time.perf_counter() - t0) * 1000.0)
    clean_up(b, ["bench_small"])
    base.sort()
    exp = connect(a.db, a.module, out_dir=a.out_dir)           # keeps its default worker: runs the big export
    try:
        exp.execute("BEGIN IMMEDIATE")
        for _ in range(a.big_runs):
            exp.execute("SELECT export_run('bench_big', '[]')").fetchone()
        exp.execute("COMMIT")
        wait_until(lambda: big_running(b), 60, "the big export to start")
        starts, times = [], []
        cur = b.cursor()
        for _ in range(a.calls):
            t_wall = time.time()
            t0 = time.perf_counter()
            cur.execute("SELECT export_run('bench_small', '[]')").fetchone()
            times.append(time.perf_counter() - t0)
            starts.append(t_wall)
        # The worker runs the queued big runs back to back before any small run (oldest first),
        # so the export ran throughout unless every big run had ended by the last call.
        if big_pending(b):
            last = float("inf")
        else:
            ends = [iso_to_epoch(r[0]) for r in b.execute(
                "SELECT finished_at FROM export_runs WHERE export_name = 'bench_big' AND finished_at IS NOT NULL")]
            last = max(ends) if ends else 0.0
        statuses = dict(b.execute("SELECT status, count(*) FROM export_runs WHERE export_name = 'bench_big' "
                                  "GROUP BY status").fetchall())
        deleted = clean_up(b, ["bench_small", "bench_big"])
    finally:
        exp.close()
        b.close()
    ms = sorted(t * 1000.0 for t in times)
    during_ms = sorted(t * 1000.0 for t, s in zip(times, starts) if s <= last)
    basis = during_ms or ms
    return {
        "calls": len(ms),
        "calls_during_export": len(during_ms),
        "p50_ms": percentile(basis, 50),
        "p99_ms": percentile(basis, 99),
        "max_ms": basis[-1],
        "baseline_calls": len(base),
        "baseline_p50_ms": percentile(base, 50),
        "baseline_p99_ms": percentile(base, 99),
        "p50_ms_all": percentile(ms, 50),
        "p99_ms_all": percentile(ms, 99),
        "big_runs_queued": a.big_runs,
        "big_runs_by_status": statuses,
        "runs_deleted": deleted,
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
            sqlite3.connect(":memory:").execute("PRAGMA synchronous").fetchone()[0]) if not a.synchronous
        else a.synchronous.upper(),
    }


def commit_rate(a):
    app = connect(a.db)
    mode = app.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"the database is in journal mode {mode}, not WAL")
    sync = app.execute("PRAGMA synchronous").fetchone()[0]
    app.execute("CREATE TABLE IF NOT EXISTS bench_app_events(id INTEGER PRIMARY KEY, at REAL NOT NULL, note TEXT)")
    ctl = connect(a.db, a.module, workers=0, out_dir=a.out_dir)
    shell = os.environ.get("EXPORT_SQLITE3", "sqlite3")
    stem = a.module[:-3] if a.module.endswith(".so") else a.module

    lat = {"without": [], "export": [], "shell": []}

    def loop(kind):
        return app_window(app, a.seconds, lat[kind])

    without, with_export, with_shell, overlapped = [], [], [], []
    try:
        for _ in range(a.rounds):
            without.append(loop("without"))
            script = big_export_script(a.out_dir, a.big_runs)
            proc = subprocess.Popen([shell, "-batch", "-cmd", ".timeout 10000", "-cmd", f".load {stem}", a.db, script], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_until(lambda: big_running(ctl) or proc.poll() is not None, 60, "the big export to start")
                if proc.poll() is not None:
                    raise RuntimeError(f"the exporting sqlite3 process ended early: {proc.stderr.read().strip()}")
                with_export.append(loop("export"))
                overlapped.append(big_pending(ctl))

                def process_ends():  # its export_wait returns ABORTED; only then are the runs deleted
                    _, err = proc.communicate(timeout=60)
                    if proc.returncode != 0:
                        raise RuntimeError(f"the exporting sqlite3 process failed: {err.strip()}")
                clean_up(ctl, ["bench_big"], process_ends)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            # The alternative for comparison: the sqlite3 shell writing the table as CSV, in a loop.
            reader = subprocess.Popen(["sh", "-c", 'while :; do "$0" -csv "$1" "SELECT * FROM orders"; done',
                                       shell, a.db], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                time.sleep(0.3)
                with_shell.append(loop("shell"))
            finally:
                os.killpg(reader.pid, 9)
                reader.wait()
        app.execute("DELETE FROM bench_app_events")
    finally:
        ctl.close()
        app.close()
    w, x = statistics.median(without), statistics.median(with_export)
    y = statistics.median(with_shell)
    paired = [b / a for a, b in zip(without, with_export) if a]
    paired_shell = [b / a for a, b in zip(without, with_shell) if a]
    return {
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, str(sync)),
        "seconds": a.seconds,
        "rates_without": without,
        "rates_with": with_export,
        "rate_without": w,
        "rate_with": x,
        "fraction": statistics.median(paired) if paired else None,
        "fractions": paired,
        "fraction_of_medians": x / w if w else None,
        "rates_with_shell": with_shell,
        "rate_with_shell": y,
        "fraction_shell": statistics.median(paired_shell) if paired_shell else None,
        "fractions_shell": paired_shell,
        "export_ran_throughout": all(overlapped),
        # each commit's duration, pooled over the rounds (ms)
        "latency_ms": {k: {"p50": percentile(sorted(v), 50), "p99": percentile(sorted(v), 99), "commits": len(v)}
                       for k, v in lat.items() if v},
        "big_runs_queued": a.big_runs,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["latency", "commit-rate"])
    p.add_argument("db")
    p.add_argument("module", help="path of build/export.so")
    p.add_argument("out_dir")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--baseline-calls", type=int, default=200, help="latency: calls timed first with no export running")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--big-runs", type=int, default=3)
    p.add_argument("--synchronous", default=None,
                   help="latency: PRAGMA synchronous of the calling connection (default: SQLite's, FULL)")
    a = p.parse_args()
    a.module = os.path.abspath(a.module)
    a.out_dir = os.path.abspath(a.out_dir)
    res = latency(a) if a.what == "latency" else commit_rate(a)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
