// Per-request Kysely over the Neon Pool (WebSockets); locally through the WS-to-TCP proxy named by DB_WS_PROXY.
import { Pool, neonConfig } from "@neondatabase/serverless";
import { Kysely, PostgresDialect } from "kysely";
import type { Database } from "./schema";

/** The bindings this module reads; the Worker's Env satisfies it. */
export interface DbEnv {
  DATABASE_URL?: string;
  /** `host:port` of a local WS-to-TCP proxy (scripts/db-proxy.mjs). Unset in production (Neon's own endpoint). */
  DB_WS_PROXY?: string;
}

export interface DbHandle {
  db: Kysely<Database>;
  /** Ends the pool's connections; in a Worker pass it to `ctx.waitUntil`. */
  dispose(): Promise<void>;
}

export interface CreateDbOptions {
  /** Connections per pool; a queue batch rarely needs more than a few. */
  max?: number;
  connectionTimeoutMillis?: number;
}

export function databaseConfigured(env: DbEnv): boolean {
  return typeof env.DATABASE_URL === "string" && env.DATABASE_URL !== "";
}

/**
 * The driver coalesces writes and sends them from a timer without checking that the socket is still
 * open. When the server hangs up between a write and that timer (the database or the proxy in front
 * of it went away; on connect that is the startup message), `send` throws inside the timer: an
 * uncaught exception, which on Workers is logged as an error and can cut the invocation's other work
 * (its waitUntil tasks) short. Bytes for a closed socket can go nowhere and the driver has already
 * failed the query on the close event, so they are dropped.
 */
function closeSafeWebSocket(): typeof WebSocket {
  return class CloseSafeWebSocket extends WebSocket {
    override send(data: string | ArrayBuffer | ArrayBufferView): void {
      if (this.readyState === WebSocket.CLOSING || this.readyState === WebSocket.CLOSED) return;
      super.send(data);
    }
  };
}
let webSocketGuarded = false;

function useLocalProxy(proxy: string): void {
  // Global, but every request of an isolate shares the same env, so it is set to the same value.
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

/**
 * Builds a database handle for one request or one queue batch: I/O objects cannot cross requests
 * in Workers, so never cache the result in module scope. Throws when DATABASE_URL is unset, which
 * is a deployment error (check `databaseConfigured` first where the ledger is optional).
 */
export function createDb(env: DbEnv, options: CreateDbOptions = {}): DbHandle {
  if (!databaseConfigured(env)) throw new Error("DATABASE_URL is not set");
  if (!webSocketGuarded) {
    // Global like the rest of neonConfig, and the same for every handle of the isolate.
    neonConfig.webSocketConstructor = closeSafeWebSocket();
    webSocketGuarded = true;
  }
  if (env.DB_WS_PROXY) useLocalProxy(env.DB_WS_PROXY);
  const pool = new Pool({
    connectionString: env.DATABASE_URL,
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
  });
  // An idle connection that drops must not become an uncaught 'error' event; the next query reports it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let disposed: Promise<void> | undefined;
  return {
    db,
    dispose: () => (disposed ??= db.destroy()),
  };
}
