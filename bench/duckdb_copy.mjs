// duckdb_copy.mjs: case 5 of bench/run.sh, DuckDB's `COPY orders TO 'x.csv'` from its own table.
//
//   node bench/duckdb_copy.mjs load  DUCKDB_FILE CSV_FILE SQLITE_DB
//       Builds DUCKDB_FILE's table `orders` once, with the same rows as SQLITE_DB's `orders`:
//       through DuckDB's sqlite scanner when it is already installed (no download is tried),
//       otherwise from CSV_FILE, a CSV written by this extension (header, NULL = empty field,
//       '' = "", BLOBs as hex), read with explicit column types.
//       Prints JSON: {"method": ..., "rows": N, "fingerprint": {...}}.
//   node bench/duckdb_copy.mjs copy  DUCKDB_FILE OUT_CSV THREADS [COMPRESSION]
//       Opens DUCKDB_FILE, sets `threads`, and times only `COPY orders TO OUT_CSV (HEADER)`, with
//       `COMPRESSION gzip` or `zstd` when COMPRESSION is given (default none).
//       Prints JSON: {"version": ..., "rows": N, "wall_s": ..., "cpu_s": ..., "maxrss_kib": ...}; cpu_s is the
//       process's user+sys time during the COPY (all threads); maxrss_kib is the peak RSS of the
//       whole node process (node itself included).
//
// Needs `npm install` in bench/ (package.json: @duckdb/node-api). Exit status 1 on any error.
import { DuckDBInstance } from '@duckdb/node-api';

// Aggregates that must be equal in SQLite and DuckDB when both hold the same rows
// (bench.py computes the same from SQLite).
const FINGERPRINT_SQL = `SELECT count(*) AS rows, count(note) AS notes, sum(CASE WHEN note = '' THEN 1 ELSE 0 END) AS empty_notes,
  count(total) AS totals, count(payload) AS payloads, sum(octet_length(payload)) AS payload_bytes,
  sum(CAST(qty % 1000 AS BIGINT)) AS qty_mod, max(id) AS max_id, max(created_at) AS max_created,
  sum(CASE WHEN note LIKE '%' || chr(10) || '%' THEN 1 ELSE 0 END) AS multiline_notes
  FROM orders`;

function quote(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

async function scalarRow(conn, sql) {
  const reader = await conn.runAndReadAll(sql);
  const cols = reader.columnNames();
  const row = reader.getRows()[0];
  const out = {};
  cols.forEach((c, i) => {
    const v = row[i];
    out[c] = typeof v === 'bigint' ? Number(v) : v === null ? null : typeof v === 'object' ? String(v) : v;
  });
  return out;
}

async function load(duckFile, csvFile, sqliteDb) {
  const inst = await DuckDBInstance.create(duckFile);
  const conn = await inst.connect();
  await conn.run('DROP TABLE IF EXISTS orders');
  let method = null;
  try {
    await conn.run('LOAD sqlite_scanner');  // only an extension already installed: never downloads
    await conn.run(`CREATE TABLE orders AS SELECT * FROM sqlite_scan(${quote(sqliteDb)}, 'orders') ORDER BY id`);
    method = 'sqlite_scanner';
  } catch (e) {
    method = null;
  }
  if (!method) {
    // The extension's CSV keeps NULL (empty field) and '' (written "") apart; allow_quoted_nulls
    // = false keeps them apart on reading. BLOBs were written as hex.
    await conn.run(`CREATE TABLE orders AS
      SELECT id, customer, status, total, qty, created_at, note,
             CASE WHEN payload IS NULL THEN NULL ELSE from_hex(payload) END AS payload
      FROM read_csv(${quote(csvFile)}, header = true, delim = ',', quote = '"', escape = '"',
                    allow_quoted_nulls = false, auto_detect = false,
                    columns = {'id': 'BIGINT', 'customer': 'VARCHAR', 'status': 'VARCHAR', 'total': 'DOUBLE',
                               'qty': 'BIGINT', 'created_at': 'VARCHAR', 'note': 'VARCHAR', 'payload': 'VARCHAR'})
      ORDER BY id`);
    method = 'read_csv of the extension\'s CSV export';
  }
  await conn.run('CHECKPOINT');
  const fp = await scalarRow(conn, FINGERPRINT_SQL);
  conn.closeSync();
  inst.closeSync();
  return { method, rows: fp.rows, fingerprint: fp };
}

async function copy(duckFile, outCsv, threads, compression = 'none') {
  const inst = await DuckDBInstance.create(duckFile, { threads: String(threads), access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  await conn.run(`SET threads = ${Number(threads)}`);
  const version = (await scalarRow(conn, 'SELECT version() AS v')).v;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const comp = compression === 'none' ? '' : `, COMPRESSION ${compression}`;
  const res = await conn.run(`COPY orders TO ${quote(outCsv)} (HEADER, DELIMITER ','${comp})`);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rows = Number(res.rowsChanged);
  conn.closeSync();
  inst.closeSync();
  return { version, rows, wall_s: wall, cpu_s: (cpu.user + cpu.system) / 1e6, maxrss_kib: process.resourceUsage().maxRSS };
}

const [mode, ...args] = process.argv.slice(2);
try {
  let out;
  if (mode === 'load' && args.length === 3) out = await load(...args);
  else if (mode === 'copy' && (args.length === 3 || (args.length === 4 && ['none', 'gzip', 'zstd'].includes(args[3]))))
    out = await copy(...args);
  else {
    console.error('usage: duckdb_copy.mjs load DUCKDB_FILE CSV_FILE SQLITE_DB | copy DUCKDB_FILE OUT_CSV THREADS [none|gzip|zstd]');
    process.exit(2);
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`duckdb_copy.mjs: ${e.message}`);
  process.exit(1);
}
