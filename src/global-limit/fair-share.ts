// Weighted fair share of the global bucket, as a pure function over one channel's window state.
// The Durable Object runs this code; the Redis backend runs the same rules in Lua (redis-script.ts).
//
// Rules (docs/api/rate-limit.md, "Global limit"):
// - Fixed windows of 60 s; the bucket admits at most `limit` units per window, exactly.
// - A tenant is *active* when it asked in this window or the previous one. W = sum of active weights.
// - Tenant i's guarantee is floor(limit * w_i / W). A tenant under its guarantee is admitted while the
//   bucket has room. Beyond it, it borrows only capacity nobody else has a claim on: each other
//   active tenant reserves min(guarantee, demand) - used, where demand is what it asked for (admitted
//   or not) in this window or the previous one. So an idle tenant reserves nothing, a light one what
//   it recently used, and a saturating one its whole guarantee.

export const WINDOW_MS = 60_000;

/** [requests, tokens] */
export type Pair = [number, number];

export interface TenantShare {
  weight: number;
  /** Index of the last window this tenant asked in. */
  window: number;
  used: Pair;
  /** Units asked for in `window`, refused ones included. */
  demand: Pair;
  /** Units asked for in the window before `window`. */
  prevDemand: Pair;
}

export interface BucketState {
  /** Index of the current window (floor(now / WINDOW_MS)); -1 before the first request. */
  window: number;
  used: Pair;
  /** Only tenants active in `window` or `window - 1` (older ones are dropped when the window rolls). */
  tenants: Map<string, TenantShare>;
}

export interface ShareRequest {
  tenantId: string;
  weight: number;
  limits: [number | undefined, number | undefined];
  tokens: number;
  now: number;
}

export interface ShareDecision {
  ok: boolean;
  retryAfterMs: number;
  /** 0 requests, 1 tokens. */
  refusedBy?: 0 | 1;
  windowStart: number;
  remaining: [number | undefined, number | undefined];
}

export interface TakeOutcome {
  decision: ShareDecision;
  /** The window rolled: `dropped` tenants went inactive and were removed. */
  rolled: boolean;
  dropped: string[];
  share: TenantShare;
}

export function emptyBucket(): BucketState {
  return { window: -1, used: [0, 0], tenants: new Map() };
}

const zero = (): Pair => [0, 0];

/** Moves the bucket to window k (never backwards: a caller with a late clock counts in the current window). */
function roll(bucket: BucketState, k: number): string[] {
  const dropped: string[] = [];
  for (const [id, share] of bucket.tenants) {
    if (share.window < k - 1) {
      bucket.tenants.delete(id);
      dropped.push(id);
    }
  }
  bucket.window = k;
  bucket.used = zero();
  return dropped;
}

function shareFor(bucket: BucketState, tenantId: string, weight: number, k: number): TenantShare {
  let share = bucket.tenants.get(tenantId);
  if (!share) {
    share = { weight, window: k, used: zero(), demand: zero(), prevDemand: zero() };
    bucket.tenants.set(tenantId, share);
  } else if (share.window < k) {
    share.prevDemand = share.window === k - 1 ? share.demand : zero();
    share.window = k;
    share.used = zero();
    share.demand = zero();
  }
  share.weight = weight;
  return share;
}

/** What the other active tenants hold back in dimension d: their unused guarantee, capped by their demand. */
function reservedByOthers(bucket: BucketState, me: string, d: 0 | 1, limit: number, totalWeight: number): number {
  const k = bucket.window;
  let reserved = 0;
  for (const [id, s] of bucket.tenants) {
    if (id === me) continue;
    const demand = s.window === k ? Math.max(s.demand[d], s.prevDemand[d]) : s.demand[d];
    const used = s.window === k ? s.used[d] : 0;
    const claim = Math.min(Math.floor((limit * s.weight) / totalWeight), demand) - used;
    if (claim > 0) reserved += claim;
  }
  return reserved;
}

/** Decides one request and updates the state (demand always; usage only when admitted). */
export function takeShare(bucket: BucketState, req: ShareRequest): TakeOutcome {
  let k = Math.floor(req.now / WINDOW_MS);
  const rolled = k > bucket.window;
  const dropped = rolled ? roll(bucket, k) : [];
  k = bucket.window;
  const me = shareFor(bucket, req.tenantId, req.weight, k);
  const costs: Pair = [1, req.tokens];
  me.demand[0] += costs[0];
  me.demand[1] += costs[1];
  let totalWeight = 0;
  for (const s of bucket.tenants.values()) totalWeight += s.weight;

  const reserved: Pair = zero();
  const guarantee: Pair = zero();
  let refusedBy: 0 | 1 | undefined;
  for (const d of [0, 1] as const) {
    const limit = req.limits[d];
    if (limit === undefined) continue;
    reserved[d] = reservedByOthers(bucket, req.tenantId, d, limit, totalWeight);
    guarantee[d] = Math.floor((limit * me.weight) / totalWeight);
    const total = bucket.used[d];
    const fits = total + costs[d] <= limit && (me.used[d] + costs[d] <= guarantee[d] || total + costs[d] + reserved[d] <= limit);
    if (!fits) refusedBy ??= d;
  }
  const ok = refusedBy === undefined;
  if (ok) {
    for (const d of [0, 1] as const) {
      bucket.used[d] += costs[d];
      me.used[d] += costs[d];
    }
  }
  const remaining: ShareDecision["remaining"] = [undefined, undefined];
  for (const d of [0, 1] as const) {
    const limit = req.limits[d];
    if (limit === undefined) continue;
    const room = limit - bucket.used[d];
    remaining[d] = Math.max(0, Math.min(room, Math.max(guarantee[d] - me.used[d], room - reserved[d])));
  }
  const retryAfterMs = ok ? 0 : Math.min(WINDOW_MS, Math.max(1, (k + 1) * WINDOW_MS - req.now));
  const decision: ShareDecision = { ok, retryAfterMs, windowStart: k * WINDOW_MS, remaining };
  if (refusedBy !== undefined) decision.refusedBy = refusedBy;
  return { decision, rolled, dropped, share: me };
}

/** Gives back one admitted request's units; undefined when its window has passed or the tenant is unknown. */
export function refundShare(bucket: BucketState, tenantId: string, windowStart: number, tokens: number): TenantShare | undefined {
  const k = windowStart / WINDOW_MS;
  const share = bucket.tenants.get(tenantId);
  if (bucket.window !== k || !share || share.window !== k) return undefined;
  const costs: Pair = [1, tokens];
  for (const d of [0, 1] as const) {
    const back = Math.min(costs[d], share.used[d]);
    share.used[d] -= back;
    bucket.used[d] = Math.max(0, bucket.used[d] - back);
    // A refused-by-the-tenant request was not demand on the global bucket either.
    share.demand[d] = Math.max(0, share.demand[d] - costs[d]);
  }
  return share;
}
