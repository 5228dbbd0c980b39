// Builds one scrape: flushes this isolate's own pending metrics, reads the aggregated snapshot from
// the GatewayMetrics object, and adds the gauges read at scrape time (breaker states from the
// UpstreamHealth objects, dead letters waiting in the database, the queue backlog estimate).
import { metricsFor } from "../objects";
import type { Env } from "../env";
import { configStore } from "../config/store";
import { sql } from "kysely";
import { createDb, databaseConfigured } from "../db/client";
import { breakerStates } from "../upstream/breaker";
import { LIVE, STORED } from "./families";
import { encodeLabels, type MetricsSnapshot, type Sample } from "./exposition";
import { flushMetrics } from "./flush";
import { decodeLabels } from "./parse-exposition";
import { withTimeout } from "./with-timeout";

const SOURCE_TIMEOUT_MS = 3_000;
/** Breaker objects asked per scrape; presets beyond it are left out (and logged). */
const MAX_BREAKER_TARGETS = 200;
const PHASE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

const gauge = (family: { name: string; labels: readonly string[] }, labels: Record<string, string>, value: number): Sample => ({
  family: family.name,
  labels: encodeLabels(family, labels),
  value,
});

async function breakerGauges(env: Env): Promise<Sample[]> {
  const presets = await configStore.presets(env);
  if (!presets.ok) throw new Error(presets.failure.message);
  const ids = [...new Set((presets.value?.items ?? []).filter((i) => i.enabled).map((i) => i.id))];
  if (ids.length > MAX_BREAKER_TARGETS) console.warn(JSON.stringify({ level: "warn", msg: "breaker gauges truncated", targets: ids.length }));
  const states = await breakerStates(env, ids.slice(0, MAX_BREAKER_TARGETS));
  return Object.entries(states).map(([target, s]) => gauge(LIVE.breakerState, { target }, PHASE_VALUE[s.state]));
}

async function deadLetterGauges(env: Env, exec: ExecutionContext): Promise<Sample[]> {
  const { db, dispose } = createDb(env, { max: 1, connectionTimeoutMillis: SOURCE_TIMEOUT_MS });
  try {
    const rows = await db
      .selectFrom("dead_letter")
      .select(["queue", (eb) => eb.fn.countAll<string>().as("n"), sql<string>`round(extract(epoch from (now() - min(created_at))))`.as("age")])
      .where("replayed_at", "is", null)
      .groupBy("queue")
      .execute();
    return rows.flatMap((r) => [
      gauge(LIVE.deadLettersPending, { queue: r.queue }, Number(r.n)),
      gauge(LIVE.deadLetterOldestAge, { queue: r.queue, stage: "pending" }, Math.max(0, Number(r.age))),
    ]);
  } finally {
    exec.waitUntil(dispose());
  }
}

/** sent - acked - dead-lettered per queue, for queues whose sends are counted; never below zero. */
export function queueBacklog(counters: readonly Sample[]): Sample[] {
  const byQueue = (family: string) => {
    const totals = new Map<string, number>();
    for (const c of counters) if (c.family === family) totals.set(decodeLabels(c.labels).queue ?? "", c.value);
    return totals;
  };
  const sent = byQueue(STORED.queueSent.name);
  const acked = byQueue(STORED.queueAcked.name);
  const dead = byQueue(STORED.deadLetters.name);
  return [...sent].map(([queue, n]) =>
    gauge(LIVE.queueBacklog, { queue }, Math.max(0, n - (acked.get(queue) ?? 0) - (dead.get(`${queue}-dlq`) ?? 0))),
  );
}

/** Everything one scrape exposes; a source that fails is left out and reported by gateway_metrics_source_up. */
export async function collectMetrics(env: Env, exec: ExecutionContext): Promise<MetricsSnapshot> {
  await flushMetrics(env);
  const useDatabase = databaseConfigured(env);
  const [aggregate, breakers, deadLetters] = await Promise.allSettled([
    withTimeout(metricsFor(env).snapshot(), SOURCE_TIMEOUT_MS, "metrics object"),
    withTimeout(breakerGauges(env), SOURCE_TIMEOUT_MS, "breakers"),
    useDatabase ? withTimeout(deadLetterGauges(env, exec), SOURCE_TIMEOUT_MS, "database") : Promise.resolve([]),
  ]);
  const snapshot: MetricsSnapshot = aggregate.status === "fulfilled" ? aggregate.value : { counters: [], histograms: [], gauges: [] };
  const up = (source: string, result: PromiseSettledResult<unknown>) => {
    if (result.status === "rejected") console.error(JSON.stringify({ level: "error", msg: "metrics source failed", source, error: String(result.reason) }));
    snapshot.gauges.push(gauge(LIVE.sourceUp, { source }, result.status === "fulfilled" ? 1 : 0));
  };
  up("aggregator", aggregate);
  up("breakers", breakers);
  if (useDatabase) up("database", deadLetters);
  if (breakers.status === "fulfilled") snapshot.gauges.push(...breakers.value);
  if (deadLetters.status === "fulfilled") snapshot.gauges.push(...deadLetters.value);
  snapshot.gauges.push(...queueBacklog(snapshot.counters));
  // Label-less counters start at 0, so increase() sees their first event (a series born at 1 has no
  // increase). Only with the aggregate read: a 0 during an outage would look like a counter reset.
  for (const family of aggregate.status === "fulfilled" ? Object.values(STORED) : []) {
    if (family.type === "counter" && family.labels.length === 0 && !snapshot.counters.some((c) => c.family === family.name)) {
      snapshot.counters.push({ family: family.name, labels: "", value: 0 });
    }
  }
  return snapshot;
}
