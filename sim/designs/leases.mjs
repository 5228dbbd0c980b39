// Leases of budgets down a tree of objects: a tenant's authoritative TenantGuard (the root of its
// requests, tokens, balance and concurrency budgets) -> a regional aggregator per (tenant, region) when
// the region needs several shards -> regional shards that admit requests. The global bucket is a tree
// too: GlobalLimiter "global" -> one shard per region (x2) -> each tenant's root.
//
// Why it never over-admits:
// - pool budgets (balance, concurrency slots) are units that move: a parent hands out only what it holds,
//   a shard reserves from what it holds, so open reservations + spending never exceed the root's total;
// - window budgets (requests and tokens per 60 s, the global bucket) are logged by their root at the time
//   of the grant and kept in its log for 60 s + VALIDITY; a granted unit may be used only within VALIDITY
//   of its grant. So the root's count over (x - 60 - VALIDITY, x] bounds every use in (x - 60, x]: exact
//   over any 60-second interval, like today's sliding log. Children report what they used (and what
//   expired unused) with their next call; the root then moves used units to a plain 60-s log dated at the
//   report (later than the use: still an upper bound) and drops unused ones, so a lease costs no capacity.
import { WINDOW_MS, WindowLog } from "../model/budgets.mjs";

/** Calls a shard may take per second by design: half the platform's ceiling. */
export const SHARD_TARGET_CALLS = 500;

export const B = { req: 0, tok: 1, bal: 2, slot: 3, glob: 4 };
export const BUDGETS = ["requests", "tokens", "balance", "slots", "global"];
const WINDOWED = [true, true, false, false, true];

export const LEASE = {
  /** A shard asks for enough to cover this much of its recent demand, ahead of need (node.aheadMs). */
  aheadMs: { shard: 2000, relay: 2000, globalShard: 5000 },
  /** A tenant's root lends ahead of need at most this share of a limit in all (the bound on stranding). */
  tenantAheadCap: 0.1,
  globalAheadCap: 0.5,
  /** It asks again when what it holds falls below this share of that. */
  lowWater: 0.5,
  /** A window unit must be used within this long of its grant. */
  validityMs: 60_000,
  /** What a shard holds beyond its horizon of demand goes back each second; all of it after this idle time. */
  idleReturnMs: 10_000,
  /** A root asks an idle holder for its units at most this often. */
  recallGapMs: 1000,
};


function addTo(map, key, n) {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** A batch of window units: granted by the root at `origin`, usable until `until`. */
function batch(origin, until, units) {
  return { origin, until, units, used: 0 };
}

export class LeaseNode {
  /**
   * role: "root" (a tenant's TenantGuard or GlobalLimiter "global"), "relay" (aggregator, global shard)
   * or "shard" (admits requests). `parents[b]`: the node this budget comes from (null at its root).
   */
  constructor(objectId, role, tenant, region, parents, limits) {
    this.objectId = objectId;
    this.role = role;
    this.tenant = tenant;
    this.region = region;
    this.parents = parents;
    this.has = limits.map((l) => l !== undefined);
    this.limit = limits;
    this.level = new Float64Array(5);
    this.batches = [[], [], [], [], []];
    this.rate = new Float64Array(5);
    this.rateAt = new Float64Array(5);
    this.exhaustedUntil = new Float64Array(5);
    this.shortUntil = new Float64Array(5);
    this.inflight = new Map();
    this.lastUse = 0;
    this.waiters = [];
    this.log = null;
    this.usedLog = null;
    this.children = new Map();
    this.starved = [];
    this.expired = new Float64Array(5);
    this.spentUnreported = 0;
    /** Holds nothing, owes no report: the per-second tick can skip it (set by the tick, cleared by a grant). */
    this.quiet = false;
    // Every field exists from the start (one object shape for every node keeps property access fast).
    this.index = -1;
    this.backoff = null;
    this.lastReportAt = 0;
    /** Below these levels the node should ask for more; a spend that crosses one sets `wantsRefill`. */
    this.refillAt = new Float64Array(5).fill(Infinity);
    /** What waiting requests lack, per budget (a shard's running sum, kept by the design). */
    this.waitNeed = new Float64Array(5);
    this.wantsRefill = true;
    this.aheadMs = role === "shard" ? LEASE.aheadMs.shard : LEASE.aheadMs.relay;
    // Demand: an exponentially decaying sum; relays hear of use in reports every few seconds, so smoother.
    this.tauMs = role === "shard" ? 2000 : 5000;
    /** The distinct parents this node's budgets come from. */
    this.parentList = [...new Set(parents.filter((p, b) => p !== null && this.has[b]))];
    /** Per window budget: origin -> units used (or expired unused) here or below, not yet reported up. */
    this.used = [new Map(), new Map(), null, null, new Map()];
    /** Batches spent from here since the last report (their `used` counts it). */
    this.usedBatches = [[], [], null, null, []];
    this.unused = [new Map(), new Map(), null, null, new Map()];
    for (let b = 0; b < 5; b++) {
      if (!this.has[b] || parents[b] !== null) continue;
      if (WINDOWED[b]) {
        this.log ??= new WindowLog(WINDOW_MS + LEASE.validityMs + 1000);
        this.usedLog ??= new WindowLog(WINDOW_MS);
      } else this.level[b] = limits[b];
    }
  }

  isRoot(b) {
    return this.parents[b] === null;
  }

  /** Units this node can use or hand out now. */
  available(b, now) {
    if (!this.has[b]) return Infinity;
    if (!WINDOWED[b]) return this.level[b];
    if (this.isRoot(b)) {
      this.log.prune(now);
      this.usedLog.prune(now);
      const used = b === B.tok ? this.log.tokens + this.usedLog.tokens : this.log.requests + this.usedLog.requests;
      return Math.max(0, this.limit[b] - used);
    }
    this.#dropExpired(b, now);
    return this.level[b];
  }

  #dropExpired(b, now) {
    const list = this.batches[b];
    while (list.length > 0 && list[0].until <= now) {
      const gone = list.shift();
      this.level[b] -= gone.units;
      this.expired[b] += gone.units;
      addTo(this.unused[b], gone.origin, gone.units);
    }
  }

  /** Spends `units` of budget b here (a shard admitting requests). The caller checked available(). */
  consume(b, units, now) {
    if (!this.has[b] || units === 0) return;
    this.#noteUse(b, units, now);
    if (this.level[b] - units < this.refillAt[b]) this.wantsRefill = true;
    if (!WINDOWED[b]) {
      this.level[b] -= units;
      return;
    }
    this.level[b] -= units;
    const list = this.batches[b];
    while (units > 1e-9 && list.length > 0) {
      const head = list[0];
      const take = Math.min(head.units, units);
      head.units -= take;
      units -= take;
      // Noted on the batch itself (the hot path): reported with the next call up.
      if (head.used === 0) this.usedBatches[b].push(head);
      head.used += take;
      if (head.units <= 1e-9) list.shift();
    }
    // The running level and the batches agree to rounding; an empty list means nothing is left.
    if (list.length === 0) this.level[b] = 0;
  }

  /** What this node and its children used or let expire since the last report, for `parent`; clears it. */
  takeUsage(parent) {
    let usage = null;
    for (const b of WINDOW_BUDGETS) {
      const spent = this.usedBatches[b];
      if (this.parents[b] !== parent || (this.used[b].size === 0 && this.unused[b].size === 0 && spent.length === 0)) continue;
      const used = [...this.used[b]];
      for (const part of spent) {
        used.push([part.origin, part.used]);
        part.used = 0;
      }
      spent.length = 0;
      usage ??= [];
      usage.push([b, used, [...this.unused[b]]]);
      this.used[b].clear();
      this.unused[b].clear();
    }
    return usage;
  }

  /** A child's report: a root re-dates used units (60 s from now) and drops unused ones; a relay passes it on. */
  absorbUsage(usage, now) {
    if (usage === null) return;
    for (const [b, used, unused] of usage) {
      for (const [, n] of used) this.#noteUse(b, n, now);
      if (!this.isRoot(b)) {
        for (const [origin, n] of used) addTo(this.used[b], origin, n);
        for (const [origin, n] of unused) addTo(this.unused[b], origin, n);
        continue;
      }
      const tokens = b === B.tok;
      for (const [origin, n] of used) {
        this.log.takeBack(origin, tokens ? 0 : n, tokens ? n : 0);
        // A use this old is out of every window that is still open: nothing to keep.
        if (now < origin + LEASE.validityMs + WINDOW_MS) this.usedLog.push(now, tokens ? 0 : n, tokens ? n : 0);
      }
      for (const [origin, n] of unused) this.log.takeBack(origin, tokens ? 0 : n, tokens ? n : 0);
    }
  }

  /** Gives back pool units to this shard's own level (a settled request's unused reservation, a freed slot). */
  refund(b, units) {
    if (this.has[b] && units > 0) this.level[b] += units;
  }

  #noteUse(b, units, now) {
    // Demand (units/s): an exponentially decaying sum with a 2-s time constant.
    this.rate[b] = this.demand(b, now) + units / (this.tauMs / 1000);
    this.rateAt[b] = now;
    this.lastUse = now;
  }

  /** Demand estimate in units per second at time `now`. */
  demand(b, now) {
    return this.rate[b] * Math.exp(-(now - this.rateAt[b]) / this.tauMs);
  }

  /** Takes `units` of budget b out of this node for a child: returns the batches (window) or a number (pool). */
  take(b, units, now) {
    if (units <= 0) return WINDOWED[b] ? [] : 0;
    // Demand for a window budget is what was used below (reported); for a pool, what was handed out.
    if (!WINDOWED[b]) this.#noteUse(b, units, now);
    else this.lastUse = now;
    if (!WINDOWED[b]) {
      this.level[b] -= units;
      return units;
    }
    if (this.isRoot(b)) {
      this.log.push(now, b === B.req || b === B.glob ? units : 0, b === B.tok ? units : 0);
      return [batch(now, now + LEASE.validityMs, units)];
    }
    this.level[b] -= units;
    const out = [];
    const list = this.batches[b];
    while (units > 1e-9 && list.length > 0) {
      const head = list[0];
      const part = Math.min(head.units, units);
      out.push(batch(head.origin, head.until, part));
      head.units -= part;
      units -= part;
      if (head.units <= 1e-9) list.shift();
    }
    if (list.length === 0) this.level[b] = 0;
    return out;
  }

  /** Receives units (a grant from a parent, or a return from a child). */
  give(b, units, now) {
    this.quiet = false;
    if (!WINDOWED[b]) {
      this.level[b] += units;
      return;
    }
    if (this.isRoot(b)) {
      for (const part of units) this.log.takeBack(part.origin, b === B.tok ? 0 : part.units, b === B.tok ? part.units : 0);
      return;
    }
    const list = this.batches[b];
    for (const part of units) {
      if (part.until <= now) {
        this.expired[b] += part.units;
        addTo(this.unused[b], part.origin, part.units);
        continue;
      }
      this.level[b] += part.units;
      // Keep the list ordered by expiry: oldest first, as it is spent.
      let i = list.length;
      while (i > 0 && list[i - 1].until > part.until) i--;
      list.splice(i, 0, batch(part.origin, part.until, part.units));
    }
  }

  /** Total units held in batches or level (not counting the root's own). */
  held(b, now) {
    if (!this.has[b] || this.isRoot(b)) return 0;
    return this.available(b, now);
  }
}

const NO_WANT = Object.freeze({ need: 0, head: 0, ahead: 0 });
const WINDOW_BUDGETS = [B.req, B.tok, B.glob];

/**
 * How much a node wants from its parent for budget b: `need` (what its waiters lack now), `head` (the
 * least that lets one waiter through) and `ahead` (its horizon of demand, asked ahead of need).
 */
export function wantOf(node, b, need, head, minUnits, now) {
  if (!node.has[b] || node.isRoot(b) || node.exhaustedUntil[b] > now) return NO_WANT;
  // The parent lent less ahead than asked a moment ago (its cap): ask only for what waiters need.
  if (need === 0 && node.shortUntil[b] > now) return NO_WANT;
  const avail = node.available(b, now);
  const target = Math.max(minUnits, node.demand(b, now) * (node.aheadMs / 1000));
  node.refillAt[b] = LEASE.lowWater * target;
  if (avail - need >= LEASE.lowWater * target) return NO_WANT;
  const lacking = Math.max(0, need - avail);
  return { need: lacking, head: Math.min(lacking, Math.max(0, head - avail)), ahead: Math.max(0, target - Math.max(0, avail - need)) };
}

/**
 * A parent's answer to a child's want. The whole need when it can: plus ahead-of-need units, at most half
 * of what would be left (a scarce budget is shared, never all in one place) and at most `aheadCap` (a
 * root's bound on what its children hold ahead of need, all together). Short of the need, what it has,
 * if that lets at least one waiter through. 0: nothing useful now.
 */
export function grantFor(avail, want, aheadCap = Infinity) {
  if (avail <= 0) return 0;
  if (avail >= want.need) return want.need + Math.max(0, Math.min(want.ahead, (avail - want.need) / 2, aheadCap));
  return avail >= want.head && want.head > 0 ? avail : 0;
}

export { WINDOWED };
