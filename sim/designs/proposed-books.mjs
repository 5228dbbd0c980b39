// The proposed design's lease trees and their bookkeeping: which objects exist (a tenant's root
// TenantGuard, its regional aggregators and shards; GlobalLimiter "global", its regional aggregators and
// shards), how many shards a tenant (or the global bucket) has in a region (sized from the measured
// traffic there), the shards' admission check, and the per-second sample of budget held in leases.
import { KIND } from "../model/objects.mjs";
import { REGIONS, regionRttMs } from "../model/world.mjs";
import { B, LEASE, LeaseNode, SHARD_TARGET_CALLS } from "./leases.mjs";

/** Calls a request brings to its shard: admit() and settle(). */
const CALLS_PER_REQUEST = 2;
const RESIZE_EVERY_S = 5;

export class ProposedBooks {
  nodes = [];
  #roots = [];
  #aggs = new Map();
  #shards = new Map();

  constructor(design) {
    this.d = design;
    const world = design.world;
    const none = [undefined, undefined, undefined, undefined];
    this.globalLimits = [...none, world.globalRpm];
    this.gRoot = this.#node(KIND.GlobalLimiter, world.globalHome, "root", -1, [null, null, null, null, null], this.globalLimits, "GlobalLimiter global");
    // Each region's aggregator holds more of its steady demand: a region cut off keeps admitting that long.
    this.gAggs = REGIONS.map((name, r) => {
      const agg = this.#node(KIND.GlobalLimiter, r, "relay", -1, [null, null, null, null, this.gRoot], this.globalLimits, `GlobalLimiter global@${name}`);
      agg.aheadMs = Math.max(agg.aheadMs, LEASE.aheadMs.globalShard);
      return agg;
    });
    this.gShards = new Map();
    this.gk = new Int32Array(REGIONS.length);
    this.gArrivals = new Float64Array(REGIONS.length);
    const cells = world.tenants.length * REGIONS.length;
    this.k = new Int32Array(cells);
    this.arrivals = new Float64Array(cells);
    this.sample = { calls: 0, parked: 0 };
  }

  #node(kind, region, role, tenant, parents, limits, label) {
    const node = new LeaseNode(this.d.objects.create(kind, region, label), role, tenant, region, parents, limits);
    // Far from its parent, a node looks further ahead: a refill must land before its float runs out.
    const parent = parents.find((p) => p !== null);
    if (parent) node.aheadMs = Math.max(node.aheadMs, 5 * regionRttMs(region, parent.region));
    node.index = this.nodes.length;
    this.nodes.push(node);
    return node;
  }

  #limits(tenant) {
    const u = undefined;
    return [tenant.rpm > 0 ? tenant.rpm : u, tenant.tpm > 0 ? tenant.tpm : u, tenant.balance, tenant.slots > 0 ? tenant.slots : u, u];
  }

  root(tenantId) {
    if (this.#roots[tenantId] === undefined) {
      const tenant = this.d.world.tenants[tenantId];
      this.#roots[tenantId] = this.#node(KIND.TenantGuard, tenant.home, "root", tenantId, [null, null, null, null, null], this.#limits(tenant), `TenantGuard ${tenantId}`);
    }
    return this.#roots[tenantId];
  }

  #shardCount(tenantId, region) {
    const cell = tenantId * REGIONS.length + region;
    if (this.k[cell] === 0) {
      const tenant = this.d.world.tenants[tenantId];
      this.k[cell] = Math.max(1, Math.ceil((tenant.rate * tenant.mix[region] * CALLS_PER_REQUEST) / SHARD_TARGET_CALLS));
    }
    return this.k[cell];
  }

  countArrival(req) {
    this.arrivals[req.tenant * REGIONS.length + req.region] += req.w;
    this.gArrivals[req.region] += req.w;
  }

  /** The global bucket's shard in the caller's region for this request: hash(nonce) mod K. */
  globalShardFor(req) {
    const r = req.region;
    if (this.gk[r] === 0) this.gk[r] = Math.max(1, Math.ceil((this.d.world.rps * this.d.world.regionShare[r]) / SHARD_TARGET_CALLS));
    const s = (req.nonce >>> 8) % this.gk[r];
    const key = r * 65536 + s;
    let shard = this.gShards.get(key);
    if (shard === undefined) {
      const agg = this.gAggs[r];
      shard = this.#node(KIND.GlobalLimiter, r, "shard", -1, [null, null, null, null, agg], this.globalLimits, `GlobalLimiter global@${REGIONS[r]}/${s}`);
      this.gShards.set(key, shard);
    }
    return shard;
  }

  /** The tenant's shard in the caller's region for this request: hash(nonce) mod K. */
  shardFor(req) {
    const k = this.#shardCount(req.tenant, req.region);
    const s = req.nonce % k;
    const key = (req.tenant * REGIONS.length + req.region) * 4096 + s;
    let shard = this.#shards.get(key);
    if (shard === undefined) {
      const tenant = this.d.world.tenants[req.tenant];
      let parent = this.root(req.tenant);
      if (k > 1) {
        const aggKey = req.tenant * REGIONS.length + req.region;
        if (!this.#aggs.has(aggKey)) {
          const p = parent;
          this.#aggs.set(aggKey, this.#node(KIND.RegionalGuard, req.region, "relay", req.tenant, [p, p, p, p, null], this.#limits(tenant), `TenantGuard ${req.tenant}@${REGIONS[req.region]}`));
        }
        parent = this.#aggs.get(aggKey);
      }
      shard = this.#node(KIND.RegionalGuard, req.region, "shard", req.tenant, [parent, parent, parent, parent, null], this.#limits(tenant), `TenantGuard ${req.tenant}@${REGIONS[req.region]}/${s}`);
      this.#shards.set(key, shard);
    }
    return shard;
  }

  needOf(req) {
    return [req.w, req.w * req.tokens, req.w * req.estCost, req.w, req.w];
  }

  /**
   * A tenant shard (tenantPart) or a global shard decides: "admitted" (units taken, the truth told),
   * "limited" (a budget is exhausted at its root) or "wait" (units are on their way).
   */
  tryAdmit(shard, req, t, tenantPart) {
    const need = req.need;
    let lacking = false;
    for (let b = 0; b < 5; b++) {
      if (!shard.has[b] || shard.available(b, t) >= need[b]) continue;
      if (shard.exhaustedUntil[b] > t) {
        if (tenantPart) this.d.oracle.refusedTenant(req.tenant, t, req.w, req.tokens, req.estCost);
        return "limited";
      }
      lacking = true;
    }
    if (lacking) return "wait";
    for (let b = 0; b < 5; b++) if (shard.has[b]) shard.consume(b, need[b], t);
    if (tenantPart) req.tenantBits = this.d.oracle.admitTenant(req.tenant, t, req.w, req.tokens, req.estCost);
    else req.takeCounted = this.d.oracle.admitGlobal(t, req.w);
    return "admitted";
  }

  /**
   * Once a second: the nodes' ticks, then shard counts from the last second's traffic. A count grows at
   * once (a shard past its share would near the ceiling) and shrinks only every RESIZE_EVERY_S seconds.
   */
  startSecond(second, now) {
    for (const node of this.nodes) this.d.flow.tick(node, now);
    if (second === 0) return;
    const shrink = second % RESIZE_EVERY_S === 0;
    const resize = (current, calls) => {
      const wanted = Math.max(1, Math.ceil(calls / SHARD_TARGET_CALLS));
      return wanted > current || shrink ? wanted : current;
    };
    for (let r = 0; r < REGIONS.length; r++) {
      this.gk[r] = resize(this.gk[r], this.gArrivals[r]);
      this.gArrivals[r] = 0;
    }
    for (let cell = 0; cell < this.k.length; cell++) {
      if (this.k[cell] === 0) continue;
      this.k[cell] = resize(this.k[cell], this.arrivals[cell] * CALLS_PER_REQUEST);
      this.arrivals[cell] = 0;
    }
  }

  /** Budget held in leases now (granted to aggregators and shards, not yet used), against the limits. */
  sampleSecond(second, now) {
    const world = this.d.world;
    let heldReq = 0;
    let heldBal = 0;
    const perTenant = new Map();
    const shiftRank = world.config.shift?.tenantRank ?? -1;
    const shiftHeld = new Float64Array(REGIONS.length);
    const cut = world.config.cutoff;
    const cutRegion = cut ? REGIONS.indexOf(cut.region) : -1;
    let cutHeld = 0;
    for (const node of this.nodes) {
      if (node.tenant < 0 || node.role === "root") continue;
      const tenant = world.tenants[node.tenant];
      if (tenant.rpm > 0) {
        const req = node.held(B.req, now);
        heldReq += req;
        perTenant.set(node.tenant, (perTenant.get(node.tenant) ?? 0) + req);
        if (node.tenant === shiftRank) shiftHeld[node.region] += req;
        if (node.region === cutRegion && tenant.home !== cutRegion) cutHeld += req;
      }
      heldBal += node.held(B.bal, now);
    }
    let rpm = 0;
    let balance = 0;
    let maxFrac = 0;
    for (const [id, held] of perTenant) {
      const tenant = world.tenants[id];
      maxFrac = Math.max(maxFrac, held / tenant.rpm);
    }
    for (const root of this.#roots) {
      if (root === undefined) continue;
      const tenant = world.tenants[root.tenant];
      if (tenant.rpm > 0) rpm += tenant.rpm;
      balance += tenant.balance;
    }
    const calls = Object.values(this.d.flow.calls).reduce((s, n) => s + n, 0);
    const leaseCalls = calls - this.sample.calls;
    this.sample.calls = calls;
    const parked = this.d.parked - this.sample.parked;
    this.sample.parked = this.d.parked;
    return {
      parked,
      strandedReq: rpm > 0 ? heldReq / rpm : 0,
      strandedBal: balance > 0 ? heldBal / balance : 0,
      maxTenantStranded: maxFrac,
      shiftHeld: Array.from(shiftHeld),
      cutHeld,
      leaseCalls,
    };
  }
}
