// The ops dashboard's data: one metrics scrape (the same sources as /internal/v1/metrics) reshaped
// into the tables the page draws, plus each billed tenant's recent traffic from GatewayMetrics.
import { metricsFor } from "../objects";
import type { Env } from "../env";
import type { HistogramSample, MetricsSnapshot, Sample } from "../metrics/exposition";
import { DURATION_BUCKETS, LIVE, OVERFLOW_LABEL, OVERHEAD_BUCKETS, STORED } from "../metrics/families";
import { decodeLabels } from "../metrics/parse-exposition";
import { collectMetrics } from "../metrics/scrape";
import { quantileFromBuckets } from "../metrics/tenant-stats";
import { withTimeout } from "../metrics/with-timeout";

/** Tenants whose recent traffic is read per refresh (one DO call each, in parallel). */
const MAX_TENANTS = 20;
const TENANT_TIMEOUT_MS = 2_000;
const BREAKER_PHASES = ["closed", "half_open", "open"] as const;

export interface RateRow {
  key: string;
  requests: number;
  failures: number;
  /** failures / requests, or null with no requests. */
  rate: number | null;
}

export interface UpstreamRow extends RateRow {
  kinds: Record<string, number>;
  breaker: (typeof BREAKER_PHASES)[number] | null;
}

export interface LatencyRow {
  key: string;
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface TenantRow {
  tenant: string;
  /** Last 60 minutes (null when the tenant's statistics could not be read). */
  requests: number | null;
  failures: number | null;
  rejections: number | null;
  /** Since the metrics began (the cost counter). */
  costMicros: number;
}

export interface QueueRow {
  queue: string;
  sent: number;
  acked: number;
  backlog: number;
  deadLettered: number;
  deadLettersPending: number;
}

export interface DashboardData {
  generatedAt: string;
  totals: { requests: number; failures: number; rate: number | null; bySource: Record<string, number> };
  byChannel: RateRow[];
  byRoute: RateRow[];
  byUpstream: UpstreamRow[];
  latency: LatencyRow[];
  overhead: LatencyRow[];
  tenants: TenantRow[];
  queues: QueueRow[];
  rejections: Record<string, number>;
  failOpen: Record<string, number>;
  sources: Record<string, boolean>;
}

const labelsOf = (s: { labels: string }) => decodeLabels(s.labels);
const ofFamily = <T extends { family: string }>(list: readonly T[], name: string) => list.filter((s) => s.family === name);
const rate = (failures: number, requests: number) => (requests === 0 ? null : failures / requests);

function sumBy(samples: readonly Sample[], label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const key = labelsOf(s)[label] ?? "";
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

function rateRows(requests: readonly Sample[], label: string): RateRow[] {
  const rows = new Map<string, RateRow>();
  for (const s of requests) {
    const labels = labelsOf(s);
    const key = labels[label] ?? "";
    const row = rows.get(key) ?? { key, requests: 0, failures: 0, rate: null };
    row.requests += s.value;
    if (labels.error_source !== "none") row.failures += s.value;
    rows.set(key, row);
  }
  return [...rows.values()].map((r) => ({ ...r, rate: rate(r.failures, r.requests) })).sort((a, b) => b.requests - a.requests);
}

function latencyRows(histograms: readonly HistogramSample[], label: string, bounds: readonly number[]): LatencyRow[] {
  const merged = new Map<string, number[]>();
  const add = (key: string, buckets: readonly number[]) => {
    const into = merged.get(key) ?? new Array<number>(bounds.length + 1).fill(0);
    buckets.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));
    merged.set(key, into);
  };
  for (const h of histograms) {
    add("all", h.buckets);
    add(labelsOf(h)[label] ?? "", h.buckets);
  }
  const ms = (counts: number[], q: number) => {
    const seconds = quantileFromBuckets(bounds, counts, q);
    return seconds === null ? null : Math.round(seconds * 10_000) / 10;
  };
  return [...merged].map(([key, counts]) => ({
    key,
    count: counts.reduce((a, b) => a + b, 0),
    p50Ms: ms(counts, 0.5),
    p95Ms: ms(counts, 0.95),
    p99Ms: ms(counts, 0.99),
  }));
}

function upstreamRows(snapshot: MetricsSnapshot): UpstreamRow[] {
  const attempts = sumBy(ofFamily(snapshot.counters, STORED.upstreamRequests.name), "target");
  const rows = new Map<string, UpstreamRow>();
  const row = (key: string) => {
    const existing = rows.get(key);
    if (existing) return existing;
    const created: UpstreamRow = { key, requests: attempts.get(key) ?? 0, failures: 0, rate: null, kinds: {}, breaker: null };
    rows.set(key, created);
    return created;
  };
  for (const key of attempts.keys()) row(key);
  for (const s of ofFamily(snapshot.counters, STORED.upstreamFailures.name)) {
    const labels = labelsOf(s);
    const r = row(labels.target ?? "");
    r.failures += s.value;
    const kind = labels.kind ?? "";
    r.kinds[kind] = (r.kinds[kind] ?? 0) + s.value;
  }
  for (const g of ofFamily(snapshot.gauges, LIVE.breakerState.name)) row(labelsOf(g).target ?? "").breaker = BREAKER_PHASES[g.value] ?? null;
  return [...rows.values()].map((r) => ({ ...r, rate: rate(r.failures, r.requests) })).sort((a, b) => a.key.localeCompare(b.key));
}

function queueRows(snapshot: MetricsSnapshot): QueueRow[] {
  const sent = sumBy(ofFamily(snapshot.counters, STORED.queueSent.name), "queue");
  const acked = sumBy(ofFamily(snapshot.counters, STORED.queueAcked.name), "queue");
  const dead = sumBy(ofFamily(snapshot.counters, STORED.deadLetters.name), "queue");
  const backlog = sumBy(ofFamily(snapshot.gauges, LIVE.queueBacklog.name), "queue");
  const pending = sumBy(ofFamily(snapshot.gauges, LIVE.deadLettersPending.name), "queue");
  // Dead letters are counted on the "-dlq" queue; show them on the queue they came from.
  const base = (q: string) => q.replace(/-dlq$/, "");
  const names = new Set([...sent.keys(), ...acked.keys(), ...backlog.keys(), ...[...dead.keys(), ...pending.keys()].map(base)]);
  const fromDlq = (m: Map<string, number>, q: string) => (m.get(`${q}-dlq`) ?? 0) + (m.get(q) ?? 0);
  return [...names].sort().map((queue) => ({
    queue,
    sent: sent.get(queue) ?? 0,
    acked: acked.get(queue) ?? 0,
    backlog: backlog.get(queue) ?? 0,
    deadLettered: fromDlq(dead, queue),
    deadLettersPending: fromDlq(pending, queue),
  }));
}

async function tenantRows(env: Env, snapshot: MetricsSnapshot): Promise<TenantRow[]> {
  const cost = sumBy(ofFamily(snapshot.counters, STORED.cost.name), "tenant");
  const ids = [...cost.keys()].filter((t) => t !== OVERFLOW_LABEL && t !== "").sort((a, b) => (cost.get(b) ?? 0) - (cost.get(a) ?? 0));
  const shown = ids.slice(0, MAX_TENANTS);
  const stats = await Promise.allSettled(shown.map((t) => withTimeout(metricsFor(env).tenantStats(t), TENANT_TIMEOUT_MS, "tenant stats")));
  const rows: TenantRow[] = shown.map((tenant, i) => {
    const result = stats[i];
    const hour = result?.status === "fulfilled" ? result.value.windows[result.value.windows.length - 1] : undefined;
    return {
      tenant,
      requests: hour?.requests ?? null,
      failures: hour ? hour.gatewayErrors + hour.upstreamErrors + hour.clientErrors : null,
      rejections: hour?.rejections ?? null,
      costMicros: cost.get(tenant) ?? 0,
    };
  });
  const rest = [...ids.slice(MAX_TENANTS), ...(cost.has(OVERFLOW_LABEL) ? [OVERFLOW_LABEL] : [])];
  if (rest.length > 0) {
    rows.push({ tenant: OVERFLOW_LABEL, requests: null, failures: null, rejections: null, costMicros: rest.reduce((n, t) => n + (cost.get(t) ?? 0), 0) });
  }
  return rows;
}

/** Reshapes one snapshot (pure, apart from the tenant lookups done by dashboardData). */
export function shapeSnapshot(snapshot: MetricsSnapshot, now: Date = new Date()): Omit<DashboardData, "tenants"> {
  const requests = ofFamily(snapshot.counters, STORED.requests.name);
  const bySource = Object.fromEntries(sumBy(requests, "error_source"));
  const total = Object.values(bySource).reduce((a, b) => a + b, 0);
  const failures = total - (bySource.none ?? 0);
  return {
    generatedAt: now.toISOString(),
    totals: { requests: total, failures, rate: rate(failures, total), bySource },
    byChannel: rateRows(requests, "channel"),
    byRoute: rateRows(requests, "route"),
    byUpstream: upstreamRows(snapshot),
    latency: latencyRows(ofFamily(snapshot.histograms, STORED.duration.name), "channel", DURATION_BUCKETS),
    overhead: latencyRows(ofFamily(snapshot.histograms, STORED.overhead.name), "channel", OVERHEAD_BUCKETS),
    queues: queueRows(snapshot),
    rejections: Object.fromEntries(sumBy(ofFamily(snapshot.counters, STORED.rejections.name), "kind")),
    failOpen: Object.fromEntries(sumBy(ofFamily(snapshot.counters, STORED.failOpen.name), "kind")),
    sources: Object.fromEntries([...sumBy(ofFamily(snapshot.gauges, LIVE.sourceUp.name), "source")].map(([k, v]) => [k, v === 1])),
  };
}

export async function dashboardData(env: Env, exec: ExecutionContext): Promise<DashboardData> {
  const snapshot = await collectMetrics(env, exec);
  return { ...shapeSnapshot(snapshot), tenants: await tenantRows(env, snapshot) };
}
