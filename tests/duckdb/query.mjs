// Runs the SQL read from stdin in a fresh in-memory DuckDB and prints the rows
// of the last statement as a JSON array of objects. Used by sluice's tests as
// a reader we did not write (tests/testenv.DuckDB).
import { DuckDBInstance } from '@duckdb/node-api';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const sql = Buffer.concat(chunks).toString('utf8');

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
try {
  const reader = await conn.runAndReadAll(sql);
  const rows = reader.getRowObjectsJson();
  process.stdout.write(JSON.stringify(rows));
} catch (e) {
  process.stderr.write(String(e && e.message ? e.message : e) + '\n');
  process.exitCode = 1;
} finally {
  conn.closeSync?.();
}
