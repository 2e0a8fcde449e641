-- sql/schema.sql: the tables sqlite-export keeps inside the database it is used on.
-- Schema version 2. Created on first use, inside the caller's transaction; the extension never
-- touches the application's PRAGMA user_version: its own version is in _export_meta. A version-1
-- database is upgraded in place by ext/schema.cpp (the columns marked "v2" below).
-- Names start with "_export_" so that they do not collide with an application's tables.

CREATE TABLE IF NOT EXISTS _export_meta(
  key   TEXT PRIMARY KEY,
  value ANY
) WITHOUT ROWID;

-- Export definitions (the `exports` virtual table reads and writes these rows).
CREATE TABLE IF NOT EXISTS _export_definitions(
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  source      TEXT NOT NULL,
  columns     TEXT,              -- JSON array, NULL = every column of the source
  criteria    TEXT,              -- JSON, NULL = every run gives criteria
  format      TEXT NOT NULL,     -- csv | tsv | jsonl
  options     TEXT NOT NULL,     -- JSON object, every option filled in
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  next_number INTEGER NOT NULL DEFAULT 1,  -- number of the next run
  next_run_at TEXT,                        -- v2: next due time of option "schedule" (UTC), NULL = none
  skipped_runs INTEGER NOT NULL DEFAULT 0, -- v2: due times skipped because a run was still active
  last_skipped_at TEXT                     -- v2: the last of those
);

-- Runs: this table is the queue. A worker claims the oldest CREATED row (or a RUNNING row whose
-- lease expired) in one BEGIN IMMEDIATE transaction, bumping lease_token: every later write by
-- that worker carries the token, so a worker whose lease was taken over changes nothing.
CREATE TABLE IF NOT EXISTS _export_runs(
  id             TEXT PRIMARY KEY,
  export_id      TEXT NOT NULL,
  number         INTEGER NOT NULL,
  status         TEXT NOT NULL,   -- CREATED RUNNING COMPLETE DOWNLOADED EXPIRED FAILED ABORTED
  criteria       TEXT,
  sql            TEXT,
  params         TEXT,
  attach         TEXT,            -- JSON {schema: file} of attached databases the run reads
  created_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT,
  expires_at     TEXT,
  rows_matched   INTEGER,
  rows_written   INTEGER NOT NULL DEFAULT 0,
  bytes_written  INTEGER NOT NULL DEFAULT 0,
  file_count     INTEGER NOT NULL DEFAULT 0,
  attempts       INTEGER NOT NULL DEFAULT 0,
  progress       REAL NOT NULL DEFAULT 0,
  failure_reason TEXT,
  lease_owner    TEXT,            -- "pid:<pid>:<worker>" of the worker holding the claim
  lease_token    INTEGER NOT NULL DEFAULT 0,
  lease_until    INTEGER,         -- ms since the epoch; a RUNNING run past it is rescued
  origin         TEXT NOT NULL DEFAULT 'manual',  -- v2: manual (export_run) | schedule
  requested_by   TEXT,            -- v2: export_run's metadata.requested_by
  metadata       TEXT,            -- v2: export_run's third argument, a JSON object
  scheduled_for  TEXT,            -- v2: the due time a scheduled run was queued for
  watermark_from,                 -- v2: an incremental run exported watermark_from < column <= watermark_to;
  watermark_to,                   --   no declared type, so no affinity: values keep their type
  UNIQUE(export_id, number)
);
CREATE INDEX IF NOT EXISTS _export_runs_status ON _export_runs(status);
-- v2: one scheduled run per definition and due time, whatever the number of processes.
CREATE UNIQUE INDEX IF NOT EXISTS _export_runs_due ON _export_runs(export_id, scheduled_for)
  WHERE scheduled_for IS NOT NULL;

-- Run numbers: export_run inserts a run numbered next_number in ONE statement (one commit in
-- autocommit mode), and this trigger moves next_number on. Numbers are never reused, even
-- after a run is deleted, so a file name is never reused either.
CREATE TRIGGER IF NOT EXISTS _export_runs_number AFTER INSERT ON _export_runs
BEGIN
  UPDATE _export_definitions SET next_number = NEW.number + 1
   WHERE id = NEW.export_id AND next_number <= NEW.number;
END;

CREATE TABLE IF NOT EXISTS _export_files(
  id            TEXT PRIMARY KEY,
  run_id        TEXT NOT NULL,
  part          INTEGER NOT NULL,
  path          TEXT NOT NULL,
  format        TEXT NOT NULL,
  compression   TEXT NOT NULL,
  size_bytes    INTEGER NOT NULL,
  row_count     INTEGER NOT NULL,
  sha256        TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  expires_at    TEXT,
  downloaded_at TEXT,
  UNIQUE(run_id, part)
);

INSERT OR IGNORE INTO _export_meta(key, value) VALUES ('schema_version', 2);
