// Per-tenant recent request statistics, kept by minute in the GatewayMetrics Durable Object (never
// exported to Prometheus) and summarised for the tenant's own GET /external/v1/health.
import { DURATION_BUCKETS } from "./families";

/** One tenant's requests in one minute (unix minute); latency counts are per bucket of DURATION_BUCKETS plus overflow. */
export interface TenantMinute {
  tenant: string;
  minute: number;
  requests: number;
  /** Answered with a 2xx. */
  succeeded: number;
  /** Refused by the tenant's own request (4xx), rejections excluded. */
  clientErrors: number;
  /** Refused by a rate limit, quota or balance check. */
  rejections: number;
  gatewayErrors: number;
  upstreamErrors: number;
  /** Non-streaming requests only: a stream's duration says how long the answer was, not how fast. */
  latency: number[];
  latencySum: number;
  costMicros: number;
  models: string[];
}

export interface TenantWindowStats {
  minutes: number;
  requests: number;
  succeeded: number;
  /** succeeded / requests, or null with no requests. */
  successRate: number | null;
  clientErrors: number;
  rejections: number;
  gatewayErrors: number;
  upstreamErrors: number;
  /** Estimated from histogram buckets (like histogram_quantile); null with no non-streaming requests. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  costMicros: number;
}

export interface TenantStats {
  windows: TenantWindowStats[];
  /** Models used in the longest window, most recent first. */
  models: string[];
}

export function emptyTenantMinute(tenant: string, minute: number): TenantMinute {
  return {
    tenant,
    minute,
    requests: 0,
    succeeded: 0,
    clientErrors: 0,
    rejections: 0,
    gatewayErrors: 0,
    upstreamErrors: 0,
    latency: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    latencySum: 0,
    costMicros: 0,
    models: [],
  };
}

/** Adds `from` into `into` (same tenant and minute). */
export function addTenantMinute(into: TenantMinute, from: TenantMinute): void {
  into.requests += from.requests;
  into.succeeded += from.succeeded;
  into.clientErrors += from.clientErrors;
  into.rejections += from.rejections;
  into.gatewayErrors += from.gatewayErrors;
  into.upstreamErrors += from.upstreamErrors;
  from.latency.forEach((n, i) => (into.latency[i] = (into.latency[i] ?? 0) + n));
  into.latencySum += from.latencySum;
  into.costMicros += from.costMicros;
  for (const m of from.models) if (!into.models.includes(m)) into.models.push(m);
}

/**
 * The q-quantile of per-bucket counts over ascending upper bounds (the last count is above the top
 * bound), interpolated linearly inside the bucket as Prometheus' histogram_quantile does.
 */
export function quantileFromBuckets(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (seen + n >= rank && n > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1]!;
}

/** Sums the minutes that fall in the last `minutes` minutes before `nowMinute` (inclusive). */
export function summarise(rows: readonly TenantMinute[], nowMinute: number, minutes: number): TenantWindowStats {
  const sum = emptyTenantMinute("", nowMinute);
  for (const row of rows) if (row.minute > nowMinute - minutes && row.minute <= nowMinute) addTenantMinute(sum, row);
  const ms = (q: number) => {
    const seconds = quantileFromBuckets(DURATION_BUCKETS, sum.latency, q);
    return seconds === null ? null : Math.round(seconds * 1000);
  };
  return {
    minutes,
    requests: sum.requests,
    succeeded: sum.succeeded,
    successRate: sum.requests === 0 ? null : sum.succeeded / sum.requests,
    clientErrors: sum.clientErrors,
    rejections: sum.rejections,
    gatewayErrors: sum.gatewayErrors,
    upstreamErrors: sum.upstreamErrors,
    latencyMs: { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) },
    costMicros: sum.costMicros,
  };
}
