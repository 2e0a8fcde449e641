#!/usr/bin/python3
"""interference.py: what costs an application's commits while an export runs.

    /usr/bin/python3 bench/interference.py DB MODULE OUT_DIR [--loads L1,L2,...] [--reps N]
                                           [--seconds S] [--big-runs M]

The benchmark's commit rate (side.py commit-rate) says how much slower an application commits
while an export runs; this says why, by putting other loads beside the same application and
comparing. The application is side.py's: plain Python sqlite3, WAL, SQLite's default
synchronous, single-row INSERTs into bench_app_events as fast as it can for SECONDS. Every
repetition measures one window without any load and one window beside each load, in a random
order; a load's fraction is the median, over the repetitions, of its window's rate over the
same repetition's rate without a load (this VM's baseline drifts by 2x between minutes).

Loads (all by default):
  spin           a shell busy-loop on one core: CPU only, no memory, no disk, no database
  spin-idle      the same under SCHED_IDLE (chrt -i 0): it yields the core to any other thread
  pin            a connection holding a read transaction open and sleeping: no CPU, but the
                 WAL cannot restart while it reads (what every export's snapshot does)
  shell          the alternative: `sqlite3 -csv DB 'SELECT * FROM orders' > /dev/null` in a loop
  export         the extension, one worker, in another process (a sqlite3 shell), as side.py
  export-idle    the same process under SCHED_IDLE
  export-nice19  the same process at nice 19
  export-tmpfs   the export, its files written to --tmpfs-dir (default /dev/shm): no disk writes

DB must hold the benchmark's definition `bench_big` (bench.py creates it). Every run the
export loads queue is aborted and deleted afterwards, and so are the application's rows.
Must run under Debian's /usr/bin/python3, whose sqlite3 module can load extensions.
"""
import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side  # noqa: E402  (the application and the clean-up are side.py's)

LOADS = ["spin", "spin-idle", "pin", "shell", "export", "export-idle", "export-nice19", "export-tmpfs"]
SPIN = ["sh", "-c", "while :; do :; done"]
PREFIX = {"export": [], "export-idle": ["chrt", "-i", "0"], "export-nice19": ["nice", "-n", "19"],
          "export-tmpfs": []}


class Load:
    """One background load, started by start() and ended by stop()."""

    def __init__(self, name, a, ctl):
        self.name, self.a, self.ctl, self.proc = name, a, ctl, None

    def start(self):
        a, name = self.a, self.name
        if name == "spin":
            self.popen(SPIN)
        elif name == "spin-idle":
            self.popen(["chrt", "-i", "0"] + SPIN)
        elif name == "pin":
            code = ("import sqlite3, sys, time\n"
                    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                    "c.execute('BEGIN'); c.execute('SELECT count(*) FROM bench_app_events').fetchone()\n"
                    "print('reading', flush=True); time.sleep(3600)\n")
            self.popen(["/usr/bin/python3", "-c", code, a.db], stdout=subprocess.PIPE)
            self.proc.stdout.readline()  # the read transaction has begun
        elif name == "shell":
            self.popen(["sh", "-c", 'while :; do sqlite3 -csv "$0" "SELECT * FROM orders"; done', a.db])
            time.sleep(0.3)
        else:
            out_dir = a.tmpfs_dir if name == "export-tmpfs" else a.out_dir
            script = side.big_export_script(out_dir, a.big_runs, "SELECT export_config('workers', 1); ")
            stem = a.module[:-3] if a.module.endswith(".so") else a.module
            self.popen(PREFIX[name] + ["sqlite3", "-batch", "-cmd", ".timeout 10000", "-cmd", f".load {stem}",
                                       a.db, script])
            side.wait_until(lambda: side.big_running(self.ctl) or self.proc.poll() is not None, 60,
                            "the big export to start")
            if self.proc.poll() is not None:
                raise RuntimeError("the exporting sqlite3 process ended early")

    def popen(self, argv, stdout=subprocess.DEVNULL):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL,
                                     start_new_session=True, text=True)

    def still_loaded(self):
        """True when the load was still on at the end of its window."""
        if self.name.startswith("export"):
            return side.big_pending(self.ctl)
        return self.proc.poll() is None

    def stop(self):
        if self.name.startswith("export"):
            # Abort its runs; its export_wait then returns and the process ends by itself. The
            # runs' files are deleted with them only from the folder they were written to.
            out_dir = self.a.tmpfs_dir if self.name == "export-tmpfs" else self.a.out_dir
            self.ctl.execute("SELECT export_config('output_dir', ?)", (out_dir,)).fetchone()
            side.clean_up(self.ctl, ["bench_big"], lambda: self.proc.wait(timeout=60))
        else:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("db")
    p.add_argument("module", help="path of build/export.so")
    p.add_argument("out_dir")
    p.add_argument("--loads", default=",".join(LOADS))
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--seconds", type=float, default=1.5)
    p.add_argument("--big-runs", type=int, default=20)
    p.add_argument("--tmpfs-dir", default="/dev/shm/sqlite-export-interference",
                   help="export-tmpfs: the output folder, on a tmpfs")
    a = p.parse_args()
    a.module, a.out_dir = os.path.abspath(a.module), os.path.abspath(a.out_dir)
    a.tmpfs_dir = os.path.abspath(a.tmpfs_dir)
    names = a.loads.split(",")
    unknown = [n for n in names if n not in LOADS]
    if unknown:
        p.error(f"unknown load(s) {', '.join(unknown)}; loads are {', '.join(LOADS)}")
    app = side.connect(a.db)
    app.execute("CREATE TABLE IF NOT EXISTS bench_app_events(id INTEGER PRIMARY KEY, at REAL NOT NULL, note TEXT)")
    ctl = side.connect(a.db, a.module, workers=0, out_dir=a.out_dir)

    rates = {n: [] for n in ["none"] + names}
    lost = {n: 0 for n in names}
    try:
        for rep in range(a.reps):
            order = ["none"] + names
            random.shuffle(order)
            for name in order:
                if name == "none":
                    rates[name].append(side.app_window(app, a.seconds))
                    continue
                load = Load(name, a, ctl)
                try:
                    load.start()
                    rates[name].append(side.app_window(app, a.seconds))
                    lost[name] += 0 if load.still_loaded() else 1
                finally:
                    if load.proc:
                        load.stop()
                time.sleep(0.2)
            print(f"rep {rep + 1}/{a.reps}: " + ", ".join(f"{n} {rates[n][-1]:.0f}/s" for n in ["none"] + names),
                  file=sys.stderr, flush=True)
        app.execute("DELETE FROM bench_app_events")
    finally:
        ctl.close()
        app.close()
    print(f"| load | commits/s (median) | fraction of the same repetition's rate without a load: "
          f"median (quartiles) |\n| --- | ---: | --- |")
    print(f"| none | {statistics.median(rates['none']):.0f} | 1.00 |")
    for n in names:
        fr = sorted(b / w for w, b in zip(rates["none"], rates[n]) if w)
        q = statistics.quantiles(fr, n=4) if len(fr) > 1 else [fr[0]] * 3
        note = f" ({lost[n]} windows outlived the load)" if lost[n] else ""
        print(f"| {n} | {statistics.median(rates[n]):.0f} | {statistics.median(fr):.2f} "
              f"({q[0]:.2f}–{q[2]:.2f}){note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
