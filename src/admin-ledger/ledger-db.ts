// Ledger reads for the audit and usage APIs: one database handle per request, disposed off the
// response path, and database failures turned into one 503 value instead of a 500.
import type { Kysely } from "kysely";
import { createDb, databaseConfigured, type DbHandle } from "../db/client";
import type { Database } from "../db/schema";
import type { Env } from "../env";
import { fail, GatewayError, type GatewayFailure } from "../errors";

/** The ledger database cannot be reached: a 503 `ledger_unavailable`, to be retried shortly. */
export function ledgerUnavailable(): GatewayFailure {
  return fail("ledger_unavailable", "The ledger database is unavailable; try again shortly.", { retryAfterSeconds: 5 });
}

/** Integers from Postgres bigint/numeric (decimal strings): a JSON number when exact, else the decimal string. */
export function jsonInt(value: bigint | string | number): number | string {
  const n = typeof value === "bigint" ? value : BigInt(value);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
}

export function openLedger(env: Env): DbHandle {
  if (!databaseConfigured(env)) throw new GatewayError(ledgerUnavailable());
  return createDb(env, { max: 2, connectionTimeoutMillis: 5_000 });
}

/**
 * Runs `read` against a fresh handle and disposes it in waitUntil. A GatewayError passes through;
 * anything else thrown by the driver is logged and becomes the 503 value.
 */
export async function withLedger<T>(env: Env, exec: ExecutionContext, traceId: string, read: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const handle = openLedger(env);
  try {
    return await read(handle.db);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    console.error(JSON.stringify({ level: "error", msg: "ledger read failed", trace_id: traceId, error: String(error) }));
    throw new GatewayError(ledgerUnavailable());
  } finally {
    exec.waitUntil(handle.dispose());
  }
}
