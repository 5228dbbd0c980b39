// GatewayMetrics: the one Durable Object that aggregates every isolate's metric deltas (SQLite, so the
// totals survive restarts and evictions), serves the Prometheus snapshot and each tenant's recent
// statistics. Isolates reach it only from waitUntil flushes and scrapes, never on a request's path.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { LIVE } from "../src/metrics/families";
import type { MetricsSnapshot } from "../src/metrics/exposition";
import type { MetricsDelta } from "../src/metrics/recorder";
import { summarise, type TenantStats } from "../src/metrics/tenant-stats";
import { DeadLetterWatch, type WatchedDeadLetter } from "./gateway-metrics/dead-letter-watch";
import { ensureSchema } from "./gateway-metrics/schema";
import { MetricsStore } from "./gateway-metrics/store";

export type { MetricsDelta, MetricsSnapshot, TenantStats, WatchedDeadLetter };

const PRUNE_EVERY_MS = 10 * 60_000;
/** Windows of the tenant health view, in minutes. */
export const TENANT_WINDOWS = [5, 60] as const;

export class GatewayMetrics extends DurableObject<Env> {
  #store!: MetricsStore;
  #watch!: DeadLetterWatch;
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#store = new MetricsStore(ctx.storage.sql);
      this.#watch = new DeadLetterWatch(ctx.storage.sql);
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Adds one isolate's batch; a batch id seen before is ignored (applied: false). */
  async merge(delta: MetricsDelta): Promise<{ applied: boolean }> {
    const now = Date.now();
    let applied = false;
    try {
      this.ctx.storage.transactionSync(() => {
        applied = this.#store.merge(delta, now);
      });
    } catch (error) {
      // The transaction rolled back; the series cap bookkeeping may not have: reload it.
      this.#store = new MetricsStore(this.ctx.storage.sql);
      throw error;
    }
    await this.#ensureAlarm(now);
    return { applied };
  }

  /** The dead-letter consumer could not store these dead letters (yet): they are waiting in `queue`. */
  async watchDeadLetters(queue: string, letters: WatchedDeadLetter[]): Promise<void> {
    this.ctx.storage.transactionSync(() => this.#watch.watch(queue, letters));
    await this.#ensureAlarm(Date.now());
  }

  /** These dead letters reached Postgres (or were given up on and logged). */
  async forgetDeadLetters(queue: string, ids: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => this.#watch.forget(queue, ids));
  }

  /** Every stored series, plus the aggregator's own gauges (last merge, dead letters not yet stored). */
  async snapshot(): Promise<MetricsSnapshot> {
    const lastMerge = this.#store.lastMergeAt();
    return {
      counters: this.#store.counters(),
      histograms: this.#store.histograms(),
      gauges: [...(lastMerge === undefined ? [] : [{ family: LIVE.lastMerge.name, labels: "", value: lastMerge / 1000 }]), ...this.#watch.gauges(Date.now())],
    };
  }

  /** One tenant's recent numbers (never exported to Prometheus: per-tenant series would be unbounded). */
  async tenantStats(tenantId: string, opts: { now?: number } = {}): Promise<TenantStats> {
    const nowMinute = Math.floor((opts.now ?? Date.now()) / 60_000);
    const longest = Math.max(...TENANT_WINDOWS);
    const rows = this.#store.tenantMinutes(tenantId, nowMinute - longest);
    const models: string[] = [];
    for (const row of [...rows].reverse()) for (const m of row.models) if (!models.includes(m)) models.push(m);
    return { windows: TENANT_WINDOWS.map((w) => summarise(rows, nowMinute, w)), models };
  }

  /** A round trip for readiness checks; answers with the object's clock. */
  async ping(): Promise<number> {
    return Date.now();
  }

  async #ensureAlarm(now: number): Promise<void> {
    if (this.#alarmAt !== null) return;
    this.#alarmAt = now + PRUNE_EVERY_MS;
    await this.ctx.storage.setAlarm(this.#alarmAt);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    this.#store.prune(now);
    for (const gone of this.#watch.prune(now)) {
      // Stored with a lost forget, or dropped by the queue: the consumer logs the second case itself.
      console.warn(JSON.stringify({ level: "warn", msg: "dead letter no longer reported unstored", queue: gone.queue, message_id: gone.id, attempts: gone.attempts }));
    }
    const left = this.ctx.storage.sql.exec<{ n: number }>(`SELECT (SELECT COUNT(*) FROM tenant_minutes) + (SELECT COUNT(*) FROM merged_batches) AS n`).one().n + this.#watch.size;
    if (left > 0) {
      this.#alarmAt = Date.now() + PRUNE_EVERY_MS;
      await this.ctx.storage.setAlarm(this.#alarmAt);
    }
  }
}
