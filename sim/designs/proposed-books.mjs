// The proposed design's lease trees and their bookkeeping: which objects exist (a tenant's root
// TenantGuard, its regional aggregators and shards; GlobalLimiter "global" and its regional shards), how
// many shards a tenant has in a region (sized from its measured traffic there), the shard's admission
// check, and the per-second sample of budget held in leases (stranded: granted, not yet used).
import { KIND } from "../model/objects.mjs";
import { REGIONS } from "../model/world.mjs";
import { B, LEASE, LeaseNode } from "./leases.mjs";
import { SHARD_TARGET_CALLS } from "./proposed.mjs";

const GLOBAL_SHARDS_PER_REGION = 2;
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
    this.gRoot = this.#node(KIND.GlobalLimiter, world.globalHome, "root", -1, [null, null, null, null, null], [...none, world.globalRpm], "GlobalLimiter global");
    this.gShards = REGIONS.map((name, r) =>
      Array.from({ length: GLOBAL_SHARDS_PER_REGION }, (_, g) =>
        this.#node(KIND.GlobalLimiter, r, "relay", -1, [null, null, null, null, this.gRoot], [...none, world.globalRpm], `GlobalLimiter ${name}/${g}`),
      ),
    );
    // A region's global shard holds more of its steady demand: a region cut off keeps admitting that long.
    for (const shards of this.gShards) for (const shard of shards) shard.aheadMs = LEASE.aheadMs.globalShard;
    const cells = world.tenants.length * REGIONS.length;
    this.k = new Int32Array(cells);
    this.arrivals = new Float64Array(cells);
    this.sample = { calls: 0 };
  }

  #node(kind, region, role, tenant, parents, limits, label) {
    const node = new LeaseNode(this.d.objects.create(kind, region, label), role, tenant, region, parents, limits);
    node.index = this.nodes.length;
    this.nodes.push(node);
    return node;
  }

  #limits(tenant) {
    const u = undefined;
    return [tenant.rpm > 0 ? tenant.rpm : u, tenant.tpm > 0 ? tenant.tpm : u, tenant.balance, tenant.slots > 0 ? tenant.slots : u, this.d.world.globalRpm];
  }

  root(tenantId) {
    if (this.#roots[tenantId] === undefined) {
      const tenant = this.d.world.tenants[tenantId];
      const gShard = this.gShards[tenant.home][tenantId % GLOBAL_SHARDS_PER_REGION];
      this.#roots[tenantId] = this.#node(KIND.TenantGuard, tenant.home, "root", tenantId, [null, null, null, null, gShard], this.#limits(tenant), `TenantGuard ${tenantId}`);
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
          this.#aggs.set(aggKey, this.#node(KIND.RegionalGuard, req.region, "relay", req.tenant, [p, p, p, p, p], this.#limits(tenant), `TenantGuard ${req.tenant}@${REGIONS[req.region]}`));
        }
        parent = this.#aggs.get(aggKey);
      }
      shard = this.#node(KIND.RegionalGuard, req.region, "shard", req.tenant, [parent, parent, parent, parent, parent], this.#limits(tenant), `TenantGuard ${req.tenant}@${REGIONS[req.region]}/${s}`);
      this.#shards.set(key, shard);
    }
    return shard;
  }

  needOf(req) {
    return [req.w, req.w * req.tokens, req.w * req.estCost, req.w, req.w];
  }

  /** "admitted" (units taken, truth checked), "limited" (a budget is exhausted upstream) or "wait". */
  tryAdmit(shard, rec, t) {
    const need = rec.need;
    let lacking = false;
    for (let b = 0; b < 5; b++) {
      if (!shard.has[b] || shard.available(b, t) >= need[b]) continue;
      if (shard.exhaustedUntil[b] > t) return "limited";
      lacking = true;
    }
    if (lacking) return "wait";
    for (let b = 0; b < 5; b++) shard.consume(b, need[b], t);
    const req = rec;
    const bits = this.d.oracle.admitTenant(req.tenant, t, req.w, req.tokens, req.estCost);
    this.d.verdict(req, bits, this.d.oracle.admitGlobal(t, req.w));
    return "admitted";
  }

  startSecond(second, now) {
    for (const node of this.nodes) this.d.flow.tick(node, now);
    if (second > 0 && second % RESIZE_EVERY_S === 0) {
      for (let cell = 0; cell < this.k.length; cell++) {
        if (this.k[cell] === 0) continue;
        const rate = this.arrivals[cell] / RESIZE_EVERY_S;
        this.k[cell] = Math.max(1, Math.ceil((rate * CALLS_PER_REQUEST) / SHARD_TARGET_CALLS));
        this.arrivals[cell] = 0;
      }
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
    return {
      strandedReq: rpm > 0 ? heldReq / rpm : 0,
      strandedBal: balance > 0 ? heldBal / balance : 0,
      maxTenantStranded: maxFrac,
      shiftHeld: Array.from(shiftHeld),
      cutHeld,
      leaseCalls,
    };
  }
}
