// Starts the shared services the suites talk to (the mock LLM provider) once per run.
import type { TestProject } from "vitest/node";
import { startTestDatabase } from "./setup/database.mjs";
import { startRedisRest } from "./setup/redis-rest.mjs";
import { startHangUpDb } from "./setup/hang-up-db.mjs";
import { startRuntimeLogWatch } from "./setup/runtime-log.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    mockProviderUrl: string;
    /** The migrated test database (a fresh PostgreSQL database, or PGlite) and its WS proxy. */
    databaseUrl: string;
    dbWsProxy: string;
    dbKind: "postgres" | "pglite";
    /** Upstash REST adapter over the local redis-server; empty strings when no redis-server answers. */
    redisRestUrl: string;
    redisRestToken: string;
    /** Uncaught exceptions workerd logged between two marks (test/fixtures/runtime-log.ts). */
    runtimeLogUrl: string;
    /** DB_WS_PROXY of a database endpoint that accepts the WebSocket and hangs up at once. */
    hangUpDbProxy: string;
  }
}

export default async function setup(project: TestProject) {
  // @ts-expect-error plain ESM module without types
  const { startMockProvider } = await import("./mock-provider/server.mjs");
  const mock = await startMockProvider({ port: 0 });
  project.provide("mockProviderUrl", mock.url);
  const [database, redis] = await Promise.all([startTestDatabase(), startRedisRest()]);
  project.provide("databaseUrl", database.databaseUrl);
  project.provide("dbWsProxy", database.dbWsProxy);
  project.provide("dbKind", database.kind);
  project.provide("redisRestUrl", redis?.url ?? "");
  project.provide("redisRestToken", redis?.token ?? "");
  const runtimeLog = await startRuntimeLogWatch();
  project.provide("runtimeLogUrl", runtimeLog.url);
  const hangUpDb = await startHangUpDb();
  project.provide("hangUpDbProxy", hangUpDb.address);
  return async () => {
    await Promise.all([runtimeLog.close(), hangUpDb.close()]);
    await mock.close();
    await Promise.all([database.close(), redis?.close()]);
  };
}
