// Test database for a vitest run: a fresh database on the local PostgreSQL when one answers,
// otherwise in-memory PGlite; migrated, and reachable from workerd through a WS proxy.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { connect, migrate } from "../../scripts/db-migrate.mjs";
import { startDbProxy } from "../../scripts/db-proxy.mjs";
import { startPglite } from "../../scripts/pglite-server.mjs";

const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
// Databases left behind by a run that was killed are dropped by a later run once they are this old.
const STALE_AFTER_S = 6 * 3600;

function answers(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function createPostgresDatabase(adminUrl, wsProxy) {
  const name = `gw_test_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString("hex")}`;
  const admin = await connect(adminUrl, { wsProxy });
  try {
    const { rows } = await admin.client.query("SELECT datname FROM pg_database WHERE datname LIKE 'gw\\_test\\_%'");
    const now = Date.now() / 1000;
    for (const { datname } of rows) {
      const born = Number(/^gw_test_(\d+)_/.exec(datname)?.[1]);
      if (born > 0 && now - born > STALE_AFTER_S) {
        await admin.client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
      }
    }
    await admin.client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    const again = await connect(adminUrl, { wsProxy });
    try {
      await again.client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await again.close();
    }
  };
  return { name, databaseUrl: url.toString(), drop };
}

/**
 * Starts the database the suites use. GW_TEST_DB=pglite forces PGlite; GW_TEST_DB=postgres
 * fails when no PostgreSQL answers (CI); unset picks PostgreSQL when it answers.
 * GW_TEST_PG_URL overrides the admin connection (default postgres@127.0.0.1:5432).
 */
export async function startTestDatabase({
  prefer = process.env.GW_TEST_DB ?? "",
  adminUrl = process.env.GW_TEST_PG_URL ?? DEFAULT_ADMIN_URL,
  log = (line) => console.log(line),
} = {}) {
  const proxy = await startDbProxy({ port: 0 });
  const admin = new URL(adminUrl);
  const pgAnswers = prefer !== "pglite" && (await answers(admin.hostname, Number(admin.port || 5432)));
  if (prefer === "postgres" && !pgAnswers) {
    await proxy.close();
    throw new Error(`GW_TEST_DB=postgres but nothing answers on ${admin.host}`);
  }
  try {
    if (pgAnswers) {
      const db = await createPostgresDatabase(adminUrl, proxy.address);
      const startedAt = performance.now();
      await migrate(db.databaseUrl, { wsProxy: proxy.address });
      log(
        `[test-db] suites use PostgreSQL at ${admin.host}, database ${db.name} ` +
          `(migrated in ${Math.round(performance.now() - startedAt)} ms; GW_TEST_DB=pglite forces PGlite)`,
      );
      return {
        kind: "postgres",
        databaseUrl: db.databaseUrl,
        dbWsProxy: proxy.address,
        close: async () => {
          await db.drop().catch((e) => log(`[test-db] could not drop ${db.name}: ${e.message}`));
          await proxy.close();
        },
      };
    }
    const pglite = await startPglite({});
    const startedAt = performance.now();
    await migrate(pglite.databaseUrl, { wsProxy: proxy.address }).catch(async (error) => {
      await pglite.close();
      throw error;
    });
    const why = prefer === "pglite" ? "GW_TEST_DB=pglite" : `no PostgreSQL answered on ${admin.host}`;
    log(`[test-db] suites use PGlite in memory (${why}; migrated in ${Math.round(performance.now() - startedAt)} ms)`);
    return {
      kind: "pglite",
      databaseUrl: pglite.databaseUrl,
      dbWsProxy: proxy.address,
      close: async () => {
        await proxy.close();
        await pglite.close();
      },
    };
  } catch (error) {
    await proxy.close();
    throw error;
  }
}
