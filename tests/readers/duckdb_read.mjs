// duckdb_read.mjs: reads exported files back with DuckDB, a reader this project did not write.
//
//   node tests/readers/duckdb_read.mjs FORMAT PLAIN_FILE OTHER_FILE...
//
// FORMAT is csv, tsv or jsonl. PLAIN_FILE is an uncompressed export; each OTHER_FILE (.gz or
// .zst) must hold the same rows: DuckDB reads every file (its compression from the file's
// extension, as read_csv/read_json do by default), and the rows of each must equal the plain
// file's, as a multiset (EXCEPT ALL both ways, and the same count). An OTHER_FILE may be the
// parts of one split export joined with '+'. Prints one JSON line
// {"version": ..., "rows": N, "files": K}; exits 1 with a message on any difference or error.
//
// DuckDB comes from the npm package @duckdb/node-api, installed in bench/node_modules by
// scripts/setup.sh (bench/package.json pins its version).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'bench', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);

function quote(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

// One file, or the parts of one export joined with '+' (read as one data set).
function reader(format, file) {
  const files = file.includes('+') ? `[${file.split('+').map(quote).join(', ')}]` : quote(file);
  if (format === 'jsonl') return `read_json(${files}, format = 'newline_delimited')`;
  const delim = format === 'tsv' ? '\\t' : ',';
  return `read_csv(${files}, header = true, all_varchar = true, delim = E'${delim}', quote = '"', escape = '"', ` +
    `null_padding = false, strict_mode = true)`;
}

async function scalar(conn, sql) {
  const r = await conn.runAndReadAll(sql);
  const v = r.getRows()[0][0];
  return typeof v === 'bigint' ? Number(v) : v;
}

const [format, plain, ...others] = process.argv.slice(2);
if (!format || !plain || others.length === 0) {
  console.error('usage: node tests/readers/duckdb_read.mjs FORMAT PLAIN_FILE OTHER_FILE...');
  process.exit(2);
}
try {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const version = await scalar(conn, 'SELECT version()');
  await conn.run(`CREATE TABLE plain AS SELECT * FROM ${reader(format, plain)}`);
  const rows = await scalar(conn, 'SELECT count(*) FROM plain');
  for (const f of others) {
    await conn.run(`CREATE OR REPLACE TABLE other AS SELECT * FROM ${reader(format, f)}`);
    const n = await scalar(conn, 'SELECT count(*) FROM other');
    const missing = await scalar(conn, 'SELECT count(*) FROM (SELECT * FROM plain EXCEPT ALL SELECT * FROM other)');
    const extra = await scalar(conn, 'SELECT count(*) FROM (SELECT * FROM other EXCEPT ALL SELECT * FROM plain)');
    if (n !== rows || missing !== 0 || extra !== 0) {
      console.error(`${f}: ${n} rows (plain: ${rows}), ${missing} rows of the plain file missing, ${extra} not in it`);
      process.exit(1);
    }
  }
  console.log(JSON.stringify({ version, rows, files: others.length }));
} catch (e) {
  console.error(`duckdb_read: ${e.message}`);
  process.exit(1);
}
