#!/usr/bin/python3
"""bench.py: the measurements and the report of the benchmark. Run it through bench/run.sh,
which builds what it needs, generates the data and passes every path.

Cases, alternated within each repetition (the starting case rotates), medians reported:
  1. shell       sqlite3 -csv DB 'SELECT * FROM orders' > FILE
  2. scan floor  bench/scan_floor.cpp: steps the same query, reads every column, writes nothing
  3. 1 worker    a fresh sqlite3 process: .load, export_config('workers', 1),
                 export_wait(export_run('bench_orders', '[]')) into a CSV file
  4. 2 cores     as 3, after export_config('parallel', 2) (skipped with a note when the build
                 answers "unknown setting")
  5. DuckDB      COPY orders TO 'x.csv' from DuckDB's own table, 2 threads, COPY alone timed
                 (skipped with a note when @duckdb/node-api is not installed)
  6. fast scan   bench/scan_floor.cpp --fast: case 2 read as the extension's readers read (a
                 NOMUTEX connection, sqlite3_column_value): the floor the extension really has
Compressed output (issue 16), in the same alternation:
  7. sqlite3 -csv DB 'SELECT * FROM orders' | gzip > FILE.gz     (gzip's default, -6)
  8. the same | pigz                                             (all cores, -6)
  9. the same | zstd -T0                                         (all cores, level 3)
 10. DuckDB   COPY ... (COMPRESSION gzip), 2 threads
 11. DuckDB   COPY ... (COMPRESSION zstd), 2 threads
 12-15. the extension with "compression": "gzip" / "zstd" (default levels), 1 worker and
        `parallel` 2
Spreadsheets (issue 18), in the same alternation:
 16. the extension with format xlsx (libxlsxwriter, constant memory), 1 worker; reported beside
     case 3 (the plain CSV export of the same run). DuckDB's `COPY ... (FORMAT xlsx)` needs its
     excel extension, which DuckDB downloads on first use: not measured (no network here but
     Debian's and npm's mirrors).
Each compressed case reports the size of what it wrote and its wall time as a ratio to the
plain export of the same run (case 3 for one worker, case 4 for parallel 2, case 1 for the
shell pipes, case 5 for DuckDB).
Then: export_run latency while a large export runs, peak RSS of case 3 at two sizes, and the
WAL commit rate of an application while an export runs (bench/side.py).

Correctness is checked, timing never is: a case that fails, or writes a wrong number of rows,
makes the exit status 1. Rows are checked on the first repetition (every repetition with
--smoke) by counting CSV records in the output, and on every repetition from the run's record
for the extension's cases.
"""
import argparse
import json
import math
import os
import platform
import sqlite3
import statistics
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import side  # noqa: E402

SHELL = os.environ.get("EXPORT_SQLITE3", "sqlite3")
CASE_NAMES = {
    1: "`sqlite3 -csv` shell",
    2: "scan floor (C++, no output)",
    3: "extension, 1 worker",
    4: "extension, 2 cores (`parallel` 2)",
    5: "DuckDB `COPY ... TO` csv, 2 threads",
    6: "fast scan floor (C++, NOMUTEX, `sqlite3_column_value`)",
    7: "`sqlite3 -csv \\| gzip`",
    8: "`sqlite3 -csv \\| pigz`",
    9: "`sqlite3 -csv \\| zstd -T0`",
    10: "DuckDB `COPY` gzip, 2 threads",
    11: "DuckDB `COPY` zstd, 2 threads",
    12: "extension gzip, 1 worker",
    13: "extension gzip, `parallel` 2",
    14: "extension zstd, 1 worker",
    15: "extension zstd, `parallel` 2",
    16: "extension xlsx, 1 worker",
}
# The compressed cases: (its plain counterpart, the codec).
COMPRESSED = {7: (1, "gzip"), 8: (1, "gzip"), 9: (1, "zstd"), 10: (5, "gzip"), 11: (5, "zstd"),
              12: (3, "gzip"), 13: (4, "gzip"), 14: (3, "zstd"), 15: (4, "zstd")}
PIPES = {7: ["gzip"], 8: ["pigz"], 9: ["zstd", "-q", "-T0"]}
# The extension's compressed cases: (definition, parallel).
EXT_CASES = {3: ("bench_orders", False), 4: ("bench_orders", True), 12: ("bench_orders_gz", False),
             13: ("bench_orders_gz", True), 14: ("bench_orders_zst", False), 15: ("bench_orders_zst", True),
             16: ("bench_orders_xlsx", False)}
FINGERPRINT_SQL = ("SELECT count(*), count(note), sum(note = ''), count(total), count(payload), "
                   "sum(length(payload)), sum(qty % 1000), max(id), max(created_at), "
                   "sum(note LIKE '%' || char(10) || '%') FROM orders")
FINGERPRINT_KEYS = ["rows", "notes", "empty_notes", "totals", "payloads", "payload_bytes", "qty_mod", "max_id",
                    "max_created", "multiline_notes"]


class Bench:
    def __init__(self, a):
        self.a = a
        self.failures = []
        self.notes = []
        self.module = os.path.abspath(a.module)
        self.stem = self.module[:-3] if self.module.endswith(".so") else self.module
        self.out_dir = os.path.join(a.data, "out")
        os.makedirs(self.out_dir, exist_ok=True)
        self.timeout = 120 if a.smoke else 900

    # ---- helpers -------------------------------------------------------------------------

    def fail(self, what):
        print(f"bench: FAILED: {what}", file=sys.stderr)
        self.failures.append(what)

    def control(self, db):
        """A connection with the extension loaded that executes no runs (workers 0)."""
        return side.connect(db, self.module, workers=0, out_dir=self.out_dir)

    def ext_sql(self, db, sql):
        """argv of a fresh sqlite3 process that loads the extension and runs sql."""
        # A busy timeout, as every application needs one (docs/REFERENCE.md, known problems): the process's
        # own worker reads the database while export_run commits (rollback-journal mode).
        return [SHELL, "-batch", "-noheader", "-list", "-cmd", ".timeout 10000", "-cmd", f".load {self.stem}", db, sql]

    @staticmethod
    def read_file(path):
        """A file's content; .gz and .zst files decompressed (gzip -dc, zstd -dc)."""
        if path.endswith(".gz") or path.endswith(".zst"):
            tool = ["gzip", "-dc"] if path.endswith(".gz") else ["zstd", "-q", "-dc"]
            r = subprocess.run(tool + [path], capture_output=True)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(tool)} {path}: {r.stderr.decode(errors='replace').strip()}")
            return r.stdout
        with open(path, "rb") as f:
            return f.read()

    @staticmethod
    def count_csv_records(path):
        """RFC 4180 records in a CSV file (decompressed first): newlines outside quoted fields."""
        data = Bench.read_file(path)
        if not data:
            return 0
        n = 0
        for i, seg in enumerate(data.split(b'"')):  # even segments lie outside quotes
            if i % 2 == 0:
                n += seg.count(b"\n")
        if not data.endswith(b"\n"):
            n += 1
        return n

    def prepare_db(self, db):
        """Start from no state of the extension (the databases are reused between benchmark runs,
        possibly by older builds), and create the benchmark's definitions."""
        raw = sqlite3.connect(db, isolation_level=None, timeout=10.0)
        try:
            for t in ("_export_files", "_export_runs", "_export_definitions", "_export_meta"):
                raw.execute(f"DROP TABLE IF EXISTS {t}")
        finally:
            raw.close()
        for name in os.listdir(self.out_dir):
            path = os.path.join(self.out_dir, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)
        c = self.control(db)
        try:
            c.execute("CREATE TABLE IF NOT EXISTS bench_small AS SELECT * FROM orders WHERE id <= 100")
            have = {r[0] for r in c.execute("SELECT name FROM exports")}
            defs = [("bench_orders", "orders", None),
                    ("bench_orders_gz", "orders", '{"compression": "gzip"}'),
                    ("bench_orders_zst", "orders", '{"compression": "zstd"}'),
                    ("bench_big", "orders", '{"exclusive": false}'),
                    ("bench_small", "bench_small", '{"exclusive": false}')]
            for name, source, options in defs:
                if name not in have:
                    c.execute("INSERT INTO exports(name, source, options) VALUES (?, ?, ?)", (name, source, options))
            if "bench_orders_xlsx" not in have:
                c.execute("INSERT INTO exports(name, source, format) VALUES ('bench_orders_xlsx', 'orders', 'xlsx')")
            names = [d[0] for d in defs] + ["bench_orders_xlsx"]
            leftover = side.clean_up(c, names)
            if leftover:
                print(f"bench: removed {leftover} runs left in {db} by an earlier benchmark")
        finally:
            c.close()

    def last_run(self, db, name="bench_orders"):
        """The newest run of definition name with its files, or None."""
        c = self.control(db)
        try:
            r = c.execute("SELECT id, status, rows_written, bytes_written, file_count, failure_reason, started_at, "
                          "finished_at FROM export_runs "
                          "WHERE export_name = ? ORDER BY number DESC LIMIT 1", (name,)).fetchone()
            if not r:
                return None
            files = c.execute("SELECT part, path, row_count, size_bytes, sha256 FROM export_files WHERE run_id = ? "
                              "ORDER BY part", (r[0],)).fetchall()
            return {"id": r[0], "status": r[1], "rows_written": r[2], "bytes_written": r[3], "file_count": r[4],
                    "failure_reason": r[5], "files": files,
                    "export_s": side.iso_to_epoch(r[7]) - side.iso_to_epoch(r[6]) if r[6] and r[7] else None}
        finally:
            c.close()

    def delete_run(self, db, run_id):
        c = self.control(db)
        try:
            c.execute("UPDATE export_runs SET status = 'ABORTED' WHERE id = ? AND status IN ('CREATED', 'RUNNING')",
                      (run_id,))
            c.execute("DELETE FROM export_runs WHERE id = ?", (run_id,))
        finally:
            c.close()

    # ---- the cases -----------------------------------------------------------------------

    def shell_output(self, argv, out, what, verify):
        """Run a case that writes the table's CSV to out (cases 1, 7-9): check its exit status
        and, when verify, its records; record the size written; remove the file."""
        m = measure.run(argv, stdout_path=out, timeout_s=self.timeout)
        err = None
        if m["rc"] != 0:
            err = f"{what} exited with {m['rc']}: {m['stderr'].strip()[:300]}"
        elif verify:
            n = self.count_csv_records(out)
            if n != self.a.rows:
                err = f"{what} wrote {n} CSV records, expected {self.a.rows}"
        m["out_bytes"] = os.path.getsize(out)
        os.unlink(out)
        return m, err

    def case_shell(self, verify):
        return self.shell_output([SHELL, "-csv", self.a.db, "SELECT * FROM orders"],
                                 os.path.join(self.a.data, "shell.csv"), "sqlite3 -csv", verify)

    def case_pipe(self, c, verify):
        """Cases 7-9: the shell's CSV piped into a compressor (the process times include both)."""
        out = os.path.join(self.a.data, "shell.csv" + (".zst" if PIPES[c][0] == "zstd" else ".gz"))
        script = 'set -o pipefail; "$0" -csv "$1" "SELECT * FROM orders" | ' + " ".join(PIPES[c])
        return self.shell_output(["bash", "-c", script, SHELL, self.a.db], out,
                                 f"sqlite3 -csv | {' '.join(PIPES[c])}", verify)

    def case_scan_floor(self, verify, fast=False):
        m = measure.run([self.a.scan_floor] + (["--fast"] if fast else []) + [self.a.db], timeout_s=self.timeout)
        err = None
        if m["rc"] != 0:
            err = f"scan_floor exited with {m['rc']}: {m['stderr'].strip()[:300]}"
        elif m["stdout"].strip() != str(self.a.rows):
            err = f"scan_floor read {m['stdout'].strip()!r} rows, expected {self.a.rows}"
        return m, err

    def export_once(self, db, rows, parallel, verify, keep_copy=None, name="bench_orders"):
        """One measurement of the extension's cases on db: returns (measure result, error, run record)."""
        out_sql = self.out_dir.replace("'", "''")
        sql = f"SELECT export_config('output_dir', '{out_sql}'); "
        sql += "SELECT export_config('parallel', 2); " if parallel else "SELECT export_config('workers', 1); "
        sql += f"SELECT export_wait(export_run('{name}', '[]'));"
        m = measure.run(self.ext_sql(db, sql), timeout_s=self.timeout)
        err = None
        run = self.last_run(db, name)
        what = f"{name}: " + ("2-core export" if parallel else "1-worker export")
        last_line = m["stdout"].strip().splitlines()[-1] if m["stdout"].strip() else ""
        if m["rc"] != 0:
            err = f"{what}: sqlite3 exited with {m['rc']}: {m['stderr'].strip()[:300]}"
        elif last_line != "COMPLETE" or not run or run["status"] != "COMPLETE":
            reason = run["failure_reason"] if run else "no run recorded"
            err = f"{what}: export_wait returned {last_line!r} ({reason})"
        elif run["rows_written"] != rows:
            err = f"{what}: rows_written = {run['rows_written']}, expected {rows}"
        elif sum(f[2] for f in run["files"]) != rows:
            err = f"{what}: export_files.row_count adds up to {sum(f[2] for f in run['files'])}, expected {rows}"
        elif verify and name.endswith("_xlsx"):
            err = self.check_xlsx(run["files"], rows, what)
        elif verify:
            n = sum(self.count_csv_records(f[1]) - 1 for f in run["files"])  # minus each file's header
            if n != rows:
                err = f"{what}: the CSV files hold {n} records, expected {rows}"
        if run and not err:
            m["out_bytes"] = sum(f[3] for f in run["files"])
        if keep_copy and not err and run and len(run["files"]) == 1:
            if os.path.exists(keep_copy):
                os.unlink(keep_copy)
            os.link(run["files"][0][1], keep_copy)
        if run:
            self.delete_run(db, run["id"])
        return m, err, run

    def check_xlsx(self, files, rows, what):
        """An xlsx export: zip archives; with openpyxl (python3-openpyxl), their data rows counted."""
        for f in files:
            with open(f[1], "rb") as fh:
                if fh.read(4) != b"PK\x03\x04":
                    return f"{what}: {f[1]} is not a zip archive"
        if rows > 200000:
            return None  # openpyxl would take minutes; the run's own counts were checked
        try:
            import openpyxl
        except ImportError:
            return None
        n = 0
        for f in files:
            wb = openpyxl.load_workbook(f[1], read_only=True)
            for ws in wb.worksheets:
                n += sum(1 for _ in ws.iter_rows(values_only=True)) - 1  # minus each sheet's header
            wb.close()
        return None if n == rows else f"{what}: the xlsx files hold {n} data rows, expected {rows}"

    def case_export(self, c, verify):
        name, parallel = EXT_CASES[c]
        m, err, run = self.export_once(self.a.db, self.a.rows, parallel, verify, name=name)
        if run and not err:
            m["sha256"] = [f[4] for f in run["files"]]
        return m, err

    def case_duckdb(self, verify, compression="none"):
        out = os.path.join(self.a.data, "duckdb.csv" + {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression])
        m = measure.run(["node", os.path.join(self.a.bench_dir, "duckdb_copy.mjs"), "copy", self.duck_file, out, "2",
                         compression], cwd=self.a.bench_dir, timeout_s=self.timeout)
        err = None
        if m["rc"] != 0:
            err = f"duckdb_copy.mjs exited with {m['rc']}: {m['stderr'].strip()[:300]}"
        else:
            r = json.loads(m["stdout"])
            self.duck_version = r.get("version")
            m["process_wall_s"] = m["wall_s"]
            m["wall_s"], m["cpu_s"] = r["wall_s"], r["cpu_s"]
            m["maxrss_kib"] = max(m["maxrss_kib"], r["maxrss_kib"])
            if r["rows"] != self.a.rows:
                err = f"DuckDB COPY wrote {r['rows']} rows, expected {self.a.rows}"
            elif verify:
                n = self.count_csv_records(out) - 1
                if n != self.a.rows:
                    err = f"DuckDB's CSV holds {n} records, expected {self.a.rows}"
        if os.path.exists(out):
            m["out_bytes"] = os.path.getsize(out)
            os.unlink(out)
        return m, err

    # ---- set-up --------------------------------------------------------------------------

    def parallel_available(self):
        m = measure.run(self.ext_sql(self.a.db, "SELECT export_config('parallel', 2);"), timeout_s=60)
        if m["rc"] == 0:
            return True
        if "unknown setting" in m["stderr"]:
            print("case 4: not available in this build")
            self.notes.append("case 4: not available in this build (`export_config('parallel', 2)` answers "
                              f"\"{m['stderr'].strip()[:160]}\")")
            return False
        self.fail(f"case 4: export_config('parallel', 2) failed: {m['stderr'].strip()[:300]}")
        return False

    def sqlite_fingerprint(self):
        with sqlite3.connect(f"file:{self.a.db}?mode=ro", uri=True) as c:
            row = c.execute(FINGERPRINT_SQL).fetchone()
        return dict(zip(FINGERPRINT_KEYS, row))

    def prepare_duckdb(self, load_csv):
        """Build the DuckDB copy of the data once per database; True when case 5 can run."""
        if not self.a.duckdb:
            self.notes.append(f"case 5 (DuckDB) skipped: {self.a.duckdb_note or '@duckdb/node-api is not installed'}")
            print("case 5: skipped (" + (self.a.duckdb_note or "@duckdb/node-api is not installed") + ")")
            return False
        self.duck_file = os.path.join(self.a.data, f"orders-{self.a.rows}.duckdb")
        stamp_file = self.duck_file + ".stamp"
        want = self.a.db_stamp
        if os.path.exists(self.duck_file) and os.path.exists(stamp_file) and open(stamp_file).read() == want:
            self.duck_method = open(stamp_file + ".method").read() if os.path.exists(stamp_file + ".method") else "?"
            return True
        for p in (self.duck_file, self.duck_file + ".wal", stamp_file):
            if os.path.exists(p):
                os.unlink(p)
        print("bench: loading the rows into DuckDB (once per database)")
        m = measure.run(["node", os.path.join(self.a.bench_dir, "duckdb_copy.mjs"), "load", self.duck_file, load_csv,
                         self.a.db], cwd=self.a.bench_dir, timeout_s=self.timeout)
        if m["rc"] != 0:
            self.fail(f"case 5: loading DuckDB failed: {m['stderr'].strip()[:300]}")
            return False
        r = json.loads(m["stdout"])
        fp_d = r["fingerprint"]
        fp_s = self.sqlite_fingerprint()
        diff = {k: (fp_s[k], fp_d.get(k)) for k in FINGERPRINT_KEYS if str(fp_s[k]) != str(fp_d.get(k))}
        if diff:
            self.fail(f"case 5: DuckDB's table differs from SQLite's (sqlite, duckdb): {diff}")
            return False
        with open(stamp_file, "w") as f:
            f.write(want)
        with open(stamp_file + ".method", "w") as f:
            f.write(r["method"])
        self.duck_method = r["method"]
        return True

    # ---- the run -------------------------------------------------------------------------

    def run(self):
        a = self.a
        t_start = time.monotonic()
        self.load_start = os.getloadavg()
        for db in (a.db, a.small_db):
            self.prepare_db(db)
        # Warm-up (untimed): reads the database into the page cache, checks the extension works
        # and leaves the CSV DuckDB is loaded from.
        load_csv = os.path.join(a.data, "duckdb-load.csv")
        print("bench: warm-up export")
        _, err, run = self.export_once(a.db, a.rows, False, True, keep_copy=load_csv)
        if err:
            self.fail(f"warm-up: {err}")
        # How long one whole-table export runs (from RUNNING to COMPLETE): sizes the queue of
        # runs that keeps "a large export" running during the side measurements.
        self.export_s = max(run["export_s"] or 1.0, 0.01) if run and not err else 1.0
        cases = [1, 2, 6, 3]
        parallel = self.parallel_available()
        if parallel:
            cases.append(4)
        duck = self.prepare_duckdb(load_csv)
        if duck:
            cases.append(5)
        for c, argv in PIPES.items():
            if shutil.which(argv[0]):
                cases.append(c)
            else:
                self.notes.append(f"case {c} skipped: `{argv[0]}` is not installed (scripts/setup.sh installs it)")
        if duck:
            cases += [10, 11]
        cases += [12, 14] + ([13, 15] if parallel else []) + [16]
        if os.path.exists(load_csv):
            os.unlink(load_csv)
        fns = {1: self.case_shell, 2: self.case_scan_floor, 5: self.case_duckdb,
               6: lambda v: self.case_scan_floor(v, fast=True),
               10: lambda v: self.case_duckdb(v, "gzip"), 11: lambda v: self.case_duckdb(v, "zstd")}
        for c in EXT_CASES:
            fns[c] = (lambda c: lambda v: self.case_export(c, v))(c)
        for c in PIPES:
            fns[c] = (lambda c: lambda v: self.case_pipe(c, v))(c)
        self.results = {c: [] for c in cases}
        self.errors = {c: [] for c in cases}
        for rep in range(a.reps):
            k = rep % len(cases)
            order = cases[k:] + cases[:k]
            verify = a.smoke or rep == 0
            for c in order:
                m, err = fns[c](verify)
                if err:
                    self.fail(f"case {c}, repetition {rep + 1}: {err}")
                    self.errors[c].append(err)
                else:
                    self.results[c].append(m)
                print(f"  rep {rep + 1}/{a.reps} case {c}: wall {m['wall_s']:.3f} s, cpu {m['cpu_s']:.3f} s, "
                      f"rss {m['maxrss_kib'] / 1024:.1f} MiB{'  ERROR' if err else ''}", flush=True)
        # Case 4 must write exactly what case 3 writes (one file, same bytes).
        if 3 in cases and 4 in cases and self.results[3] and self.results[4]:
            s3, s4 = self.results[3][0].get("sha256"), self.results[4][0].get("sha256")
            if s3 and s4 and len(s3) == 1 and len(s4) == 1 and s3 != s4:
                self.fail("case 4 wrote a file different from case 3's (sha256 differs)")
            elif s3 and s4 and len(s4) != 1:
                self.notes.append(f"case 4 wrote {len(s4)} files (parts); not compared byte for byte with case 3")
        self.side_measures()
        self.load_end = os.getloadavg()
        self.duration = time.monotonic() - t_start
        self.report()
        return 1 if self.failures else 0

    def side_measures(self):
        a = self.a
        # Peak RSS of the exporting process at two sizes (case 3's command).
        self.rss = {}
        big = [m["maxrss_kib"] for m in self.results.get(3, [])]
        if big:
            self.rss[a.rows] = max(big)
        small = []
        for _ in range(a.reps):
            m, err, _ = self.export_once(a.small_db, a.small_rows, False, a.smoke)
            if err:
                self.fail(f"RSS at {a.small_rows} rows: {err}")
            else:
                small.append(m["maxrss_kib"])
        if small:
            self.rss[a.small_rows] = max(small)
        # The same for each codec (cases 12 and 14, one worker): memory must stay flat with them too.
        self.rss_codec = {}
        for c, name in ((12, "bench_orders_gz"), (14, "bench_orders_zst")):
            big = [m["maxrss_kib"] for m in self.results.get(c, [])]
            small = []
            for _ in range(a.reps):
                m, err, _ = self.export_once(a.small_db, a.small_rows, False, a.smoke, name=name)
                if err:
                    self.fail(f"RSS at {a.small_rows} rows, {name}: {err}")
                else:
                    small.append(m["maxrss_kib"])
            if big and small:
                self.rss_codec[COMPRESSED[c][1]] = {a.small_rows: max(small), a.rows: max(big)}
        # Queued runs that never start cost only a row each (they are aborted afterwards), so
        # the queue is sized generously: about a minute of exporting (20 s with --smoke).
        cover = 20.0 if a.smoke else 60.0
        calls = 200 if a.smoke else 1000
        big = str(min(500, math.ceil(cover / self.export_s) + 1))
        # Once with SQLite's default synchronous (FULL: each autocommit export_run is one fsync of
        # the caller's), once with NORMAL, WAL's usual setting, which shows the call's own cost.
        self.latency = self.side("latency", "--calls", str(calls), "--baseline-calls", str(calls // 5),
                                 "--big-runs", big)
        self.latency_normal = self.side("latency", "--calls", str(calls), "--baseline-calls", str(calls // 5),
                                        "--big-runs", big, "--synchronous", "NORMAL")
        seconds = 1.0 if a.smoke else 2.0
        self.commit = self.side("commit-rate", "--seconds", str(seconds), "--rounds", "1" if a.smoke else "5",
                                "--big-runs", str(min(500, math.ceil((2 * seconds + 10.0) / self.export_s) + 1)))

    def side(self, what, *args):
        print(f"bench: {what}", flush=True)
        m = measure.run(["/usr/bin/python3", os.path.join(self.a.bench_dir, "side.py"), what, self.a.db, self.module,
                         self.out_dir, *args], timeout_s=self.timeout)
        if m["rc"] != 0:
            self.fail(f"{what}: {m['stderr'].strip()[-600:]}")
            return None
        return json.loads(m["stdout"])

    # ---- the report ----------------------------------------------------------------------

    def machine(self):
        def cmd(argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
            except Exception:
                return "?"
        cpu = "?"
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        c = self.control(self.a.db)
        try:
            ext_version = c.execute("SELECT export_version()").fetchone()[0]
        finally:
            c.close()
        head = cmd(["git", "-C", self.a.repo, "rev-parse", "--short", "HEAD"])
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", self.a.repo, "diff", "--quiet", "HEAD", "--",
                                "ext", "include", "sql", "CMakeLists.txt"], capture_output=True).returncode
        return {
            "nproc": cmd(["nproc"]),
            "cpu": cpu,
            "kernel": f"{platform.system()} {platform.release()}",
            "sqlite": cmd([SHELL, "--version"]).split(" ")[0] + f" (shell); {sqlite3.sqlite_version} (library)",
            "compiler": cmd(["g++", "--version"]).splitlines()[0] if cmd(["g++", "--version"]) else "?",
            "extension": f"{ext_version}, commit {head}" + (" + uncommitted changes in ext/" if dirty == 1 else ""),
            "duckdb": getattr(self, "duck_version", None),
        }

    def report(self):
        a = self.a
        mach = self.machine()
        med = {}
        for c, ms in self.results.items():
            if ms:
                med[c] = {k: statistics.median(m[k] for m in ms) for k in ("wall_s", "cpu_s")}
                med[c]["min"] = min(m["wall_s"] for m in ms)
                med[c]["max"] = max(m["wall_s"] for m in ms)
                med[c]["rss"] = max(m["maxrss_kib"] for m in ms) / 1024
                med[c]["n"] = len(ms)
                sizes = [m["out_bytes"] for m in ms if m.get("out_bytes") is not None]
                med[c]["bytes"] = statistics.median(sizes) if sizes else None

        def ratio(c, base, key="wall_s"):
            if c in med and base in med and med[base][key] > 0:
                return f"{med[c][key] / med[base][key]:.2f}"
            return "–"

        L = []
        L.append(f"# Benchmark results: {a.rows:,} rows, {a.reps} repetition(s){' (smoke)' if a.smoke else ''}")
        L.append("")
        L.append(f"Written by `bash bench/run.sh{' --smoke' if a.smoke else ''}"
                 f"{'' if a.smoke else f' --rows {a.rows} --reps {a.reps}'}` on "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; overwritten by every run.")
        L.append("")
        L.append("Machine: " + f"{mach['nproc']} CPUs ({mach['cpu']}), {mach['kernel']}, SQLite {mach['sqlite']}, "
                 f"{mach['compiler']}; sqlite-export {mach['extension']}. Load average "
                 f"{self.load_start[0]:.2f} at the start, {self.load_end[0]:.2f} at the end "
                 f"(other work on the machine inflates wall times; CPU times are steadier).")
        L.append("")
        L.append("| # | case | wall median (s) | wall min–max (s) | CPU median (s) | CPU ÷ wall | peak RSS (MiB) "
                 "| wall ÷ (1) | wall ÷ (2) | CPU ÷ (2) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in (1, 2, 6, 3, 4, 5):
            name = CASE_NAMES[c]
            if c in med:
                d = med[c]
                L.append(f"| {c} | {name} | {d['wall_s']:.3f} | {d['min']:.3f}–{d['max']:.3f} | {d['cpu_s']:.3f} | "
                         f"{d['cpu_s'] / d['wall_s']:.2f} | {d['rss']:.1f} | {ratio(c, 1)} | {ratio(c, 2)} | "
                         f"{ratio(c, 2, 'cpu_s')} |")
            elif c in self.results:
                L.append(f"| {c} | {name} | error | | | | | | | |")
            else:
                L.append(f"| {c} | {name} | not run (see notes) | | | | | | | |")
        L.append("")
        L.append("Case 2 is the issue's scan floor (a default, serialized connection: each `sqlite3_column_*` "
                 "call takes the connection's mutex); case 6 reads the same rows the way the extension's readers "
                 "do, and is the floor they really have. Ratios ÷ (2) follow the issue; compare with case 6 too.")
        L.append("")
        L.append("Cases 1–4 and 6 are whole processes (start, open, extension load, export, exit); case 5 times the "
                 "`COPY` statement alone inside the node process (its RSS is the whole node process). Cases 3–4 "
                 "include the run's bookkeeping (a whole table needs no `count(*)` pass) and the `fsync` of the file that "
                 "guarantee 5 requires; case 1 does not sync.")
        L.append("")
        L.append("## Compressed output (issue 16)")
        L.append("")
        L.append("| # | case | wall median (s) | CPU median (s) | CPU ÷ wall | peak RSS (MiB) | size (MB) "
                 "| wall ÷ plain | plain case | size ÷ `gzip -6` (7) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in sorted(COMPRESSED):
            plain, _ = COMPRESSED[c]
            name = CASE_NAMES[c]
            if c in med:
                d = med[c]
                size = f"{d['bytes'] / 1e6:.1f}" if d.get("bytes") else "–"
                vs_gzip = (f"{d['bytes'] / med[7]['bytes']:.2f}" if d.get("bytes") and 7 in med and med[7].get("bytes")
                           else "–")
                L.append(f"| {c} | {name} | {d['wall_s']:.3f} | {d['cpu_s']:.3f} | {d['cpu_s'] / d['wall_s']:.2f} | "
                         f"{d['rss']:.1f} | {size} | {ratio(c, plain)} | ({plain}) | {vs_gzip} |")
            elif c in self.results:
                L.append(f"| {c} | {name} | error | | | | | | | |")
            else:
                L.append(f"| {c} | {name} | not run (see notes) | | | | | | | |")
        L.append("")
        L.append("Plain sizes: " + ", ".join(f"({c}) {med[c]['bytes'] / 1e6:.1f} MB" for c in (1, 3, 4, 5)
                                             if c in med and med[c].get("bytes")) + ". Cases 7–9 time the whole "
                 "pipeline (shell and compressor); 10–11 the `COPY` alone, as case 5.")
        L.append("")
        L.append("## Spreadsheets (issue 18)")
        L.append("")
        L.append("| # | case | wall median (s) | CPU median (s) | CPU ÷ wall | peak RSS (MiB) | size (MB) | wall ÷ (3) "
                 "| CPU ÷ (3) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for c in (3, 16):
            if c in med:
                d = med[c]
                size = f"{d['bytes'] / 1e6:.1f}" if d.get("bytes") else "–"
                L.append(f"| {c} | {CASE_NAMES[c]} | {d['wall_s']:.3f} | {d['cpu_s']:.3f} | {d['cpu_s'] / d['wall_s']:.2f} "
                         f"| {d['rss']:.1f} | {size} | {ratio(c, 3)} | {ratio(c, 3, 'cpu_s')} |")
            else:
                L.append(f"| {c} | {CASE_NAMES[c]} | {'error' if c in self.results else 'not run'} | | | | | | |")
        L.append("")
        L.append("DuckDB's `COPY ... (FORMAT xlsx)` needs its `excel` extension, which DuckDB downloads when first "
                 "used; this machine reaches only Debian's and npm's mirrors, so it is not measured.")
        L.append("")
        L.append("## Other measurements")
        L.append("")
        L.append("| measurement | value |")
        L.append("|---|---|")
        for lat in (self.latency, self.latency_normal):
            if lat:
                sync = lat.get("synchronous", "?")
                L.append(f"| `export_run` latency while a large export runs, caller's synchronous={sync} "
                         f"({lat['calls_during_export']} of {lat['calls']} calls overlapped it) | p50 "
                         f"{lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms |")
                L.append(f"| `export_run` latency with no export running, synchronous={sync} "
                         f"({lat['baseline_calls']} calls) | p50 {lat['baseline_p50_ms']:.2f} ms, p99 "
                         f"{lat['baseline_p99_ms']:.2f} ms |")
            else:
                L.append("| `export_run` latency | error |")
        lat = self.latency_normal
        for rows in sorted(self.rss):
            L.append(f"| peak RSS of the exporting `sqlite3` process, {rows:,} rows | {self.rss[rows] / 1024:.1f} MiB |")
        if len(self.rss) == 2:
            lo, hi = sorted(self.rss)
            L.append(f"| RSS growth from {lo:,} to {hi:,} rows | "
                     f"{(self.rss[hi] - self.rss[lo]) / self.rss[lo] * 100:+.1f} % |")
        for codec, by_rows in getattr(self, "rss_codec", {}).items():
            lo, hi = sorted(by_rows)
            L.append(f"| peak RSS, {codec} (1 worker), {lo:,} and {hi:,} rows | {by_rows[lo] / 1024:.1f} MiB, "
                     f"{by_rows[hi] / 1024:.1f} MiB ({(by_rows[hi] - by_rows[lo]) / by_rows[lo] * 100:+.1f} %) |")
        cr = self.commit
        if cr and cr["fraction"] is not None and cr["fraction_shell"] is not None:
            L.append(f"| WAL commit rate of the application (single-row INSERTs, synchronous={cr['synchronous']}) "
                     f"without an export | {cr['rate_without']:.0f} commits/s |")
            L.append(f"| ... while an export runs in another process"
                     f"{'' if cr['export_ran_throughout'] else ' (the export did NOT run the whole time)'} | "
                     f"{cr['rate_with']:.0f} commits/s; median of the rounds' own ratios {cr['fraction'] * 100:.0f} % "
                     f"(rounds: {', '.join(f'{f * 100:.0f}' for f in cr['fractions'])}) |")
            if cr.get("rate_with_shell") is not None:
                L.append(f"| ... while `sqlite3 -csv` reads the table in another process (the alternative) | "
                         f"{cr['rate_with_shell']:.0f} commits/s; median ratio {cr['fraction_shell'] * 100:.0f} % "
                         f"(rounds: {', '.join(f'{f * 100:.0f}' for f in cr['fractions_shell'])}) |")
        else:
            L.append("| WAL commit rate | not measured (an error, or no commit in a round without an export) |")
        self.lost = None
        if cr and cr.get("latency_ms"):
            lm = cr["latency_ms"]
            for k, what in (("without", "without an export"), ("export", "while the export runs"),
                            ("shell", "while `sqlite3 -csv` runs")):
                if k in lm:
                    L.append(f"| the application's commit duration {what} | p50 {lm[k]['p50']:.3f} ms, p99 "
                             f"{lm[k]['p99']:.3f} ms ({lm[k]['commits']} commits) |")
        if cr and 3 in med and 1 in med and cr.get("rates_with_shell"):
            # Commits lost per export: (rate without - rate with) x how long the export runs, per round.
            lost_x = [(w - x) * med[3]["wall_s"] for w, x in zip(cr["rates_without"], cr["rates_with"])]
            lost_s = [(w - y) * med[1]["wall_s"] for w, y in zip(cr["rates_without"], cr["rates_with_shell"])]
            self.lost = (statistics.median(lost_x), statistics.median(lost_s))
            L.append(f"| commits lost per export: (rate without − rate with) × the export's wall time, median of "
                     f"the rounds; the extension (case 3, {med[3]['wall_s']:.2f} s) | {self.lost[0]:.0f} |")
            L.append(f"| ... the alternative, `sqlite3 -csv` (case 1, {med[1]['wall_s']:.2f} s) | {self.lost[1]:.0f} |")
        L.append("")
        L.append("## Targets of issue 7 (informational: the benchmark never fails on timing)")
        L.append("")
        L.append("| target | measured | met |")
        L.append("|---|---|---|")

        def target(desc, value, ok, fmt="{:.2f}"):
            if value is None:
                L.append(f"| {desc} | – | – |")
            else:
                L.append(f"| {desc} | {fmt.format(value)} | {'yes' if ok else 'no'} |")

        def wr(c, base, key="wall_s"):
            return med[c][key] / med[base][key] if c in med and base in med else None
        v = wr(3, 2)
        target("1 worker ≤ 1.3 × scan floor (wall)", v, v is not None and v <= 1.3)
        v = wr(3, 6)
        target("(not in the issue) 1 worker ≤ 1.3 × fast scan floor, case 6 (wall)", v, v is not None and v <= 1.3)
        v = wr(3, 1)
        target("1 worker ≤ 0.4 × shell (wall)", v, v is not None and v <= 0.4)
        v = wr(4, 1)
        target("2 cores ≤ 0.25 × shell (wall)", v, v is not None and v <= 0.25)
        v = wr(4, 5)
        target("2 cores ≤ 0.8 × DuckDB COPY (wall)", v, v is not None and v <= 0.8)
        v = lat["p99_ms"] if lat else None
        target("`export_run` p99 ≤ 5 ms during a large export (caller's synchronous=NORMAL)", v,
               v is not None and v <= 5, "{:.2f} ms")
        v = max(self.rss.values()) / 1024 if self.rss else None
        target("peak RSS < 64 MiB", v, v is not None and v < 64, "{:.1f} MiB")
        for codec, by_rows in getattr(self, "rss_codec", {}).items():
            v = max(by_rows.values()) / 1024
            target(f"(issue 16) peak RSS < 64 MiB with {codec}", v, v < 64, "{:.1f} MiB")
        if len(self.rss) == 2:
            lo, hi = sorted(self.rss)
            v = abs(self.rss[hi] - self.rss[lo]) / self.rss[lo] * 100
        else:
            v = None
        target("RSS within 10 % between the two sizes", v, v is not None and v <= 10, "{:.1f} %")
        L.append("")
        L.append("Issue 7's commit-rate target (70 % of the rate without an export) is retired by issue 16: "
                 "commits lost per export replace it below.")
        L.append("")
        L.append("## Targets of issue 16 (informational)")
        L.append("")
        L.append("| target | measured | met |")
        L.append("|---|---|---|")
        v = wr(13, 4)
        target("gzip, `parallel` 2 ≤ 1.6 × plain `parallel` 2 (13 ÷ 4, wall)", v, v is not None and v <= 1.6)
        v = wr(13, 7)
        target("gzip, `parallel` 2 ≤ 0.3 × `sqlite3 -csv \\| gzip` (13 ÷ 7, wall)", v, v is not None and v <= 0.3)
        v = (med[13]["bytes"] / med[7]["bytes"] if 13 in med and 7 in med and med[13].get("bytes")
             and med[7].get("bytes") else None)
        target("gzip file ≤ 1.1 × the size of `gzip -6`'s (13 ÷ 7, bytes)", v, v is not None and v <= 1.1)
        v = wr(15, 4)
        target("zstd, `parallel` 2 ≤ 1.25 × plain `parallel` 2 (15 ÷ 4, wall)", v, v is not None and v <= 1.25)
        v = wr(14, 3)
        target("zstd, 1 worker ≤ 1.25 × plain, 1 worker (14 ÷ 3, wall)", v, v is not None and v <= 1.25)
        v = self.lost[0] / self.lost[1] if self.lost and self.lost[1] > 0 else None
        target("commits lost per export ≤ 0.6 × those lost to the shell alternative", v, v is not None and v <= 0.6)
        L.append("")
        if self.notes or self.failures:
            L.append("## Notes")
            L.append("")
            for n in self.notes:
                L.append(f"- {n}")
            for f in self.failures:
                L.append(f"- FAILED: {f}")
            L.append("")
        if any(not m.get("rss_exact", True) for ms in self.results.values() for m in ms):
            L.append("Peak RSS figures come from os.wait4 (no /usr/bin/time): a process started by Python "
                     "records Python's own peak (~10 MiB) at exec, so figures near that are upper bounds.")
            L.append("")
        if 5 in med:
            L.append(f"DuckDB's table was loaded by {getattr(self, 'duck_method', '?')}.")
            L.append("")
        L.append(f"Benchmark duration: {self.duration:.0f} s.")
        text = "\n".join(L) + "\n"
        print()
        print(text)
        with open(os.path.join(a.bench_dir, "results.md"), "w") as f:
            f.write(text)
        raw = {"results": self.results, "latency": self.latency, "latency_normal": self.latency_normal, "commit": self.commit, "rss": self.rss,
               "failures": self.failures, "notes": self.notes, "machine": mach}
        for ms in raw["results"].values():
            for m in ms:
                m.pop("stdout", None)
                m.pop("stderr", None)
        with open(os.path.join(a.data, "results.json"), "w") as f:
            json.dump(raw, f, indent=1, default=str)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--bench-dir", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--small-db", required=True)
    p.add_argument("--small-rows", type=int, required=True)
    p.add_argument("--db-stamp", required=True, help="identifies the generated data (rows + generator)")
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--module", required=True)
    p.add_argument("--scan-floor", required=True)
    p.add_argument("--duckdb", action="store_true", help="@duckdb/node-api is installed in bench/node_modules")
    p.add_argument("--duckdb-note", default="")
    a = p.parse_args()
    for k in ("repo", "bench_dir", "data", "db", "small_db", "module", "scan_floor"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    return Bench(a).run()


if __name__ == "__main__":
    sys.exit(main())
