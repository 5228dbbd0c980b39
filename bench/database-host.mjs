// Child process of the benchmark: the ledger database the queue consumers write to, behind the Neon
// WebSocket proxy, migrated as the dev stack does. In order: BENCH_DATABASE_URL as given; else a
// fresh database on the local Postgres service (postgres@127.0.0.1:5432, dropped at the end); else
// in-memory PGlite (single session: under load its connections drop, so it is the last resort).
// Kept out of the load generator's process so its work never delays a measured request.
import { connect, migrate } from "../scripts/db-migrate.mjs";
import { startDbProxy } from "../scripts/db-proxy.mjs";
import { startPglite } from "../scripts/pglite-server.mjs";

const READY_PREFIX = "BENCH_DB ";
const SYSTEM_POSTGRES = process.env.BENCH_POSTGRES_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DB_NAME = `gateway_bench_${process.pid}`;

async function adminQuery(wsProxy, sql) {
  const { client, close } = await connect(SYSTEM_POSTGRES, { wsProxy });
  try {
    await client.query(sql);
  } finally {
    await close();
  }
}

/** A fresh database on the system Postgres, or null when there is none (or it refuses). */
async function systemDatabase(wsProxy) {
  if (process.env.BENCH_DATABASE === "pglite") return null;
  try {
    await adminQuery(wsProxy, `CREATE DATABASE ${DB_NAME}`);
  } catch {
    return null;
  }
  const url = new URL(SYSTEM_POSTGRES);
  url.pathname = `/${DB_NAME}`;
  return { databaseUrl: url.toString(), engine: `Postgres (${url.host}, database ${DB_NAME})`, drop: () => adminQuery(wsProxy, `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`) };
}

async function main() {
  const proxy = await startDbProxy({ port: 0 });
  const wsProxy = proxy.address; // host:port; the clients add /v1?address=...
  let db;
  if (process.env.BENCH_DATABASE_URL) db = { databaseUrl: process.env.BENCH_DATABASE_URL, engine: "BENCH_DATABASE_URL", drop: async () => {} };
  else db = await systemDatabase(wsProxy);
  if (!db) {
    const pglite = await startPglite();
    db = { databaseUrl: pglite.databaseUrl, engine: "PGlite (in memory)", drop: () => pglite.close() };
  }
  await migrate(db.databaseUrl, { wsProxy });
  process.stdout.write(READY_PREFIX + JSON.stringify({ databaseUrl: db.databaseUrl, wsProxy, engine: db.engine }) + "\n");
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await db.drop().catch(() => {});
    await proxy.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
}

main().catch((error) => {
  process.stdout.write(READY_PREFIX + JSON.stringify({ error: String(error?.stack ?? error) }) + "\n");
  process.exit(1);
});
