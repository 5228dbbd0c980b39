// Embedded Postgres for local runs and tests: PGlite behind a Postgres wire-protocol socket on loopback.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { pathToFileURL } from "node:url";

/**
 * Starts PGlite (in memory when `dataDir` is undefined) on 127.0.0.1. All connections share one
 * PGlite session, so queries run one at a time; concurrency semantics need real Postgres.
 */
export async function startPglite({ dataDir, port = 0, host = "127.0.0.1", maxConnections = 64 } = {}) {
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  const server = new PGLiteSocketServer({ db, port, host, maxConnections });
  await server.start();
  const actualPort = Number(server.getServerConn().split(":").pop());
  return {
    port: actualPort,
    /** PGlite has one database and ignores the user; these names keep URLs conventional. */
    databaseUrl: `postgres://postgres@${host}:${actualPort}/postgres`,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const dataDir = arg("db") ?? process.env.PGLITE_DATA_DIR;
  const pg = await startPglite({ dataDir, port: Number(arg("port") ?? process.env.PGLITE_PORT ?? 5433) });
  console.log(`pglite-server: ${pg.databaseUrl} (${dataDir ? `data in ${dataDir}` : "in memory"})`);
  const stop = () => pg.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
