#!/usr/bin/python3
"""Python's standard sqlite3 module with sqlite-export: define, run, wait, download.

usage: /usr/bin/python3 examples/example.py path/to/export   (module path without .so)
"""
import os
import sqlite3
import sys
import tempfile

module = sys.argv[1] if len(sys.argv) > 1 else "build/export"
folder = tempfile.mkdtemp()
db = sqlite3.connect(os.path.join(folder, "app.db"), isolation_level=None)
db.enable_load_extension(True)
db.load_extension(module)
db.enable_load_extension(False)
db.execute("PRAGMA journal_mode = WAL")
db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, payload TEXT)")
db.executemany("INSERT INTO events(kind, payload) VALUES (?, ?)",
               [("click" if i % 2 else "view", f'{{"n": {i}}}') for i in range(100)])
db.execute("INSERT INTO exports(name, source, format) VALUES ('events', 'events', 'jsonl')")
run_id, = db.execute("""SELECT export_run('events', ?)""",
                     ('[{"attribute": "kind", "operator": "IS_EQUAL_TO", "value": "click"}]',)).fetchone()
status, = db.execute("SELECT export_wait(?)", (run_id,)).fetchone()
file_id, rows = db.execute("SELECT id, row_count FROM export_files WHERE run_id = ?", (run_id,)).fetchone()
data, = db.execute("SELECT export_download(?)", (file_id,)).fetchone()
print(f"run {run_id}: {status}, {rows} rows, {len(data)} bytes; first line: {data.splitlines()[0].decode()}")
assert status == "COMPLETE" and rows == 50, (status, rows)
print("run status after download:", db.execute("SELECT status FROM export_runs WHERE id = ?", (run_id,)).fetchone()[0])
db.close()
