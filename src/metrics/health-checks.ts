// Readiness: one real round trip to each dependency (KV, a Durable Object, the database, Redis when
// configured), each timed and bounded. Queues are reported, not probed: a probe message would reach
// the ledger consumers and end in a dead-letter queue.
import { metricsFor } from "../objects";
import { Redis } from "@upstash/redis/cloudflare";
import { sql } from "kysely";
import type { Env } from "../env";
import { createDb, databaseConfigured } from "../db/client";
import { withTimeout } from "./with-timeout";

export const CHECK_TIMEOUT_MS = 3_000;
/** A key nobody writes: reading it is a real KV round trip (a miss), and no configuration is read. */
export const KV_PROBE_KEY = "health:probe";

export type CheckStatus = "ok" | "fail" | "skipped";

export interface CheckResult {
  name: "kv" | "durable_objects" | "queues" | "database" | "redis";
  status: CheckStatus;
  /** A failing required check makes the gateway unready (503). */
  required: boolean;
  latency_ms: number | null;
  detail?: string;
}

export interface Readiness {
  status: "ready" | "unready";
  checks: CheckResult[];
}

/** An error message fit for an operator: short, and no credentials from a connection string. */
export function safeDetail(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\/\/[^/\s@]*@/g, "//***@").slice(0, 200);
}

async function timed(name: CheckResult["name"], probe: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  try {
    await withTimeout(probe(), timeoutMs, name);
    return { name, status: "ok", required: true, latency_ms: Date.now() - started };
  } catch (error) {
    return { name, status: "fail", required: true, latency_ms: Date.now() - started, detail: safeDetail(error) };
  }
}

const skipped = (name: CheckResult["name"], detail: string): CheckResult => ({ name, status: "skipped", required: false, latency_ms: null, detail });

async function selectOne(env: Env, exec: ExecutionContext, timeoutMs: number): Promise<void> {
  const { db, dispose } = createDb(env, { max: 1, connectionTimeoutMillis: timeoutMs });
  try {
    const result = await sql<{ one: number }>`select 1 as one`.execute(db);
    if (Number(result.rows[0]?.one) !== 1) throw new Error("select 1 returned something else");
  } finally {
    exec.waitUntil(dispose());
  }
}

async function pingRedis(env: Env): Promise<void> {
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, retry: false, enableTelemetry: false });
  const answer = await redis.ping();
  if (answer !== "PONG") throw new Error(`unexpected PING answer ${String(answer)}`);
}

function queuesCheck(env: Env): CheckResult {
  const bound = (["BILLING_QUEUE", "AUDIT_QUEUE", "BILLING_DLQ", "AUDIT_DLQ"] as const).filter((b) => typeof env[b]?.send === "function");
  if (bound.length < 4) return { name: "queues", status: "fail", required: true, latency_ms: null, detail: `missing queue bindings; bound: ${bound.join(", ") || "none"}` };
  return skipped("queues", "bindings present; not probed (a probe message would reach the ledger consumers)");
}

/** Runs every check in parallel; unready when a required one fails. */
export async function readiness(env: Env, exec: ExecutionContext, timeoutMs: number = CHECK_TIMEOUT_MS): Promise<Readiness> {
  const checks = await Promise.all([
    timed("kv", () => env.CONFIG_KV.get(KV_PROBE_KEY), timeoutMs),
    timed("durable_objects", () => metricsFor(env).ping(), timeoutMs),
    Promise.resolve(queuesCheck(env)),
    databaseConfigured(env) ? timed("database", () => selectOne(env, exec, timeoutMs), timeoutMs) : Promise.resolve(skipped("database", "DATABASE_URL is not set")),
    env.UPSTASH_REDIS_REST_URL ? timed("redis", () => pingRedis(env), timeoutMs) : Promise.resolve(skipped("redis", "UPSTASH_REDIS_REST_URL is not set")),
  ]);
  return { status: checks.some((c) => c.status === "fail" && c.required) ? "unready" : "ready", checks };
}
