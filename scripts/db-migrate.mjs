// Applies pending SQL migrations from migrations/ in name order, one transaction each, recording
// name + checksum in schema_migrations. CLI: `DATABASE_URL=... node scripts/db-migrate.mjs`.
import { Client } from "@neondatabase/serverless";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ws from "ws";
import { startDbProxy } from "./db-proxy.mjs";

const DEFAULT_DIR = fileURLToPath(new URL("../migrations/", import.meta.url));
const MIGRATION_NAME = /^\d{4}-\d{2}-\d{2}-\d{4}-[a-z0-9-]+\.sql$/;
// Any constant works; it only has to be the same for every migrator that may run at once.
const LOCK_ID = 727_001;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

// Through the proxy a refused port only shows as "Connection terminated unexpectedly"; say it plainly.
function assertAnswers(host, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000, () => socket.destroy(new Error("timed out")));
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", (error) => reject(new Error(`nothing answers on ${host}:${port} (${error.code ?? error.message})`)));
  });
}

/**
 * Opens one Neon-driver client. A loopback database is reached through a WS proxy (`wsProxy` /
 * DB_WS_PROXY as `host:port`, or one started here for the duration); any other host is taken to be
 * Neon and uses the driver's defaults.
 */
export async function connect(databaseUrl, { wsProxy = process.env.DB_WS_PROXY } = {}) {
  const url = new URL(databaseUrl);
  const host = url.hostname;
  let ownProxy;
  if (!LOOPBACK.has(host)) wsProxy = undefined; // our proxies forward to loopback only; Neon hosts use their own endpoint
  else await assertAnswers(host.replace(/^\[|\]$/g, ""), Number(url.port || 5432));
  if (!wsProxy && LOOPBACK.has(host)) {
    ownProxy = await startDbProxy({ port: 0 });
    wsProxy = ownProxy.address;
  }
  const client = new Client(databaseUrl);
  const config = client.neonConfig; // per client, so callers in the same process are not affected
  config.webSocketConstructor = ws;
  if (wsProxy) {
    config.wsProxy = (h, p) => `${wsProxy}/v1?address=${h}:${p}`;
    config.useSecureWebSocket = false;
    config.pipelineTLS = false;
    config.pipelineConnect = false;
  }
  client.on("error", () => {}); // a dropped idle connection surfaces on the next query instead
  try {
    await client.connect();
  } catch (error) {
    await ownProxy?.close();
    throw error;
  }
  return {
    client,
    close: async () => {
      await client.end().catch(() => {});
      await ownProxy?.close();
    },
  };
}

/** Migration files in apply order, with the checksum that freezes their content. */
export async function readMigrations(dir = DEFAULT_DIR) {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort();
  const bad = names.filter((n) => !MIGRATION_NAME.test(n));
  if (bad.length > 0) throw new Error(`migration names must look like 2026-11-27-0001-ledger.sql: ${bad.join(", ")}`);
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

/**
 * Applies every pending migration; returns the names applied. Refuses to run when an applied
 * migration's file changed (migrations are frozen in time: write a new one instead).
 */
export async function migrate(databaseUrl, { dir = DEFAULT_DIR, wsProxy, log = () => {} } = {}) {
  if (!databaseUrl) throw new Error("migrate: DATABASE_URL is not set");
  const migrations = await readMigrations(dir);
  const { client, close } = await connect(databaseUrl, { wsProxy });
  try {
    // Serializes concurrent migrators on real Postgres; harmless on PGlite (one session).
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name       text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query("SELECT name, checksum FROM schema_migrations");
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const changed = migrations.filter((m) => applied.has(m.name) && applied.get(m.name) !== m.checksum);
    if (changed.length > 0) {
      throw new Error(`applied migrations were edited: ${changed.map((m) => m.name).join(", ")}`);
    }
    const done = [];
    for (const m of migrations.filter((m) => !applied.has(m.name))) {
      await client.query("BEGIN");
      try {
        await client.query(m.sql); // simple-query protocol: the file may hold many statements
        await client.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [m.name, m.checksum]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw new Error(`migration ${m.name} failed: ${error.message}`, { cause: error });
      }
      log(`applied ${m.name}`);
      done.push(m.name);
    }
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_ID]);
    return done;
  } finally {
    await close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.env.DATABASE_URL;
  try {
    const applied = await migrate(url, { log: (line) => console.log(`db-migrate: ${line}`) });
    console.log(`db-migrate: ${applied.length === 0 ? "up to date" : `${applied.length} applied`}`);
  } catch (error) {
    console.error(`db-migrate: ${error.message}`);
    process.exitCode = 1;
  }
}
