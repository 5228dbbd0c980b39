// The proposed design: admission in the caller's region, exact.
// - The isolate calls two objects in its own region, in parallel (one round trip, as today's admit() and
//   take() are): its tenant's regional shard (requests, tokens, balance, concurrency) and a regional shard
//   of the global bucket. Each admits from the leases it holds (leases.mjs, lease-flow.mjs), refilled ahead
//   of need from the tenant's authoritative TenantGuard / from GlobalLimiter "global" (through a regional
//   aggregator when the region has several shards), and returned when idle. Shard = hash(nonce) mod K,
//   K sized so each shard stays far below the 1,000 calls/s ceiling.
// - A signed request names its region in the signed material: the isolate refuses one signed for another
//   region before calling anything (the client re-signs); a replay in the same region meets the same
//   shard (the nonce's hash), which keeps the nonce. No call leaves the region for a nonce.
// - Combined as src/global-limit/gate.ts does today: the global bucket refuses, the tenant's hold is
//   released; the tenant refuses, the global unit stays spent (conservative).
// - settle() and the billing and audit events go to the shard that admitted (it packs them for the queues).
// - Breakers and metrics: fan-in.mjs.
import { SERVICE_MS } from "../model/calibration.mjs";
import { BILLING_PER_PACK, AUDIT_PER_PACK, PackCounter } from "../model/queues.mjs";
import { REGIONS, rttMs, upstreamFailing } from "../model/world.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { ADMIT_TIMEOUT_MS, DesignBase, FAILURE_LATENCY_MS } from "./base.mjs";
import { FanInEdge } from "./fan-in.mjs";
import { B } from "./leases.mjs";
import { LeaseFlow } from "./lease-flow.mjs";
import { ProposedBooks } from "./proposed-books.mjs";

const EV = { admit: 80, take: 81, end: 82, settle: 83, timeout: 84, release: 85 };
/** A client refused for signing another region re-signs and sends again after this long. */
const CLIENT_RESIGN_MS = 40;
const STATE = { pending: 0, ok: 1, refused: 2, unavailable: 3 };

export class ProposedDesign extends DesignBase {
  #records = [];
  #free = [];
  #serial = 0;

  constructor(world, isolates) {
    super(world, isolates, "proposed", "sliding");
    this.edge = new FanInEdge(this);
    const w = world.config.batch;
    // The least a shard keeps ahead of need: a few requests' worth (tokens and balance: a large request's).
    this.flow = new LeaseFlow(this, [4 * w, 4 * w * 4000, 4 * w * 4000, 4 * w, 4 * w]);
    this.books = new ProposedBooks(this);
    this.billingPacks = new PackCounter(1024, 1000, BILLING_PER_PACK);
    this.auditPacks = new PackCounter(1024, 1000, AUDIT_PER_PACK);
    this.edgeAudit = new PackCounter(isolates.count, 1000, AUDIT_PER_PACK);
    this.nonceAtHome = REGIONS.map(() => new Histogram());
    this.regionMismatches = 0;
    /** Requests (after the warm-up) that waited at a shard for a refill: admission off the fast path. */
    this.parked = 0;
    /** Requests the global bucket's shards refused (its limit, exactly). */
    this.globalRefused = 0;
  }

  /** Units of budget b the node's waiters lack (a shard's requests, or a relay's children). */
  needOf(node, b) {
    if (node.role === "shard") return Math.max(0, node.waitNeed[b]);
    let need = 0;
    for (const wtr of node.waiters) if (wtr.b === b) need += wtr.need;
    return need;
  }

  /** The least units of budget b that let the first waiter through. */
  headOf(node, b) {
    if (node.role !== "shard") {
      let head = Infinity;
      for (const wtr of node.waiters) if (wtr.b === b && wtr.head < head) head = wtr.head;
      return head;
    }
    while (node.waiters.length > 0 && node.waiters[0].settled()) node.waiters.shift();
    return node.waiters.length > 0 ? node.waiters[0].rec.need[b] : 0;
  }

  /** A waiting request leaves its shard's queue (decided, or given up): its need no longer counts. */
  #unpark(req, tenantPart) {
    const shard = tenantPart ? req.parkedAt : req.gparkedAt;
    if (shard === null) return;
    for (let b = 0; b < 5; b++) if (shard.has[b]) shard.waitNeed[b] -= req.need[b];
    if (tenantPart) req.parkedAt = null;
    else req.gparkedAt = null;
  }

  arrive(req) {
    this.books.countArrival(req);
    const upstream = this.route(req);
    if (upstream === -1) {
      this.outcome("circuitOpen", req.w);
      this.ledger.audit(this.edgeAudit.emit(req.slot, this.now, req.w), req.w);
      return;
    }
    req.upstream = upstream;
    req.shard = this.books.shardFor(req);
    req.gshard = this.books.globalShardFor(req);
    req.need = this.books.needOf(req);
    req.serial = ++this.#serial;
    req.admit = req.take = STATE.pending;
    const id = this.#free.length > 0 ? this.#free.pop() : this.#records.length;
    this.#records[id] = req;
    let start = this.now;
    if (req.signed && req.regionMismatch) {
      // Signed for another region: the isolate refuses it before any call; the client re-signs and resends.
      this.regionMismatches += req.w;
      start += CLIENT_RESIGN_MS;
    }
    req.startAt = start;
    for (const type of [EV.admit, EV.take]) {
      const ev = this.events.at(start + this.oneWay(req.colo, req.region), type);
      this.events.a[ev] = id;
    }
  }

  handle(id) {
    const ev = this.events;
    switch (ev.type[id]) {
      case EV.admit:
      case EV.take:
        return this.#onArrive(ev.a[id], ev.type[id] === EV.admit, ev.time[id]);
      case EV.timeout:
        return this.#onTimeout(ev.a[id], ev.d[id], ev.time[id]);
      case EV.end:
        return this.#onEnd(id);
      case EV.settle:
      case EV.release:
        return this.#onSettle(id);
      default:
        if (ev.type[id] >= 60 && ev.type[id] < 70) return this.flow.handle(id);
        return this.edge.handle(id);
    }
  }

  /** The admit (tenant shard) or take (global shard) call arrives at its shard. */
  #onArrive(id, tenantPart, t) {
    const req = this.#records[id];
    const shard = tenantPart ? req.shard : req.gshard;
    const wait = this.objects.arrive(shard.objectId, t, req.w, tenantPart ? SERVICE_MS.admit : SERVICE_MS.take);
    if (wait < 0) return this.#answer(id, tenantPart, STATE.unavailable, t);
    // A batch's requests stand for requests spread in time: each waits for the backlog before the batch and
    // its own service, not for the rest of its batch (the object is still busy for all of them).
    const at = t + wait + (tenantPart ? SERVICE_MS.admit : SERVICE_MS.take);
    const verdict = shard.waiters.length > 0 ? "wait" : this.books.tryAdmit(shard, req, at, tenantPart);
    if (verdict !== "wait") {
      this.#answer(id, tenantPart, verdict === "admitted" ? STATE.ok : STATE.refused, at);
      // Refilled ahead of need: the float is topped up as it is spent, off the request's path.
      if (shard.wantsRefill) this.flow.maybeRefill(shard, at);
      return;
    }
    if (req.t >= this.warmupMs && req.parkedAt === null && req.gparkedAt === null) this.parked += req.w;
    for (let b = 0; b < 5; b++) if (shard.has[b]) shard.waitNeed[b] += req.need[b];
    if (tenantPart) req.parkedAt = shard;
    else req.gparkedAt = shard;
    const serial = req.serial;
    shard.waiters.push({ rec: req, id, tenantPart, settled: () => req.serial !== serial || (tenantPart ? req.admit : req.take) !== STATE.pending });
    // A waiting request gives up when the caller's admission timeout passes.
    if (!req.done) {
      req.done = true;
      const timeout = this.events.at(req.startAt + ADMIT_TIMEOUT_MS, EV.timeout);
      this.events.a[timeout] = id;
      this.events.d[timeout] = serial;
    }
    this.flow.maybeRefill(shard, at);
  }

  /** Units arrived at a node: a shard decides its waiting requests in order; a relay serves its children. */
  afterGrant(node, t) {
    if (node.role === "shard") {
      while (node.waiters.length > 0) {
        const head = node.waiters[0];
        if (head.settled()) {
          node.waiters.shift();
          continue;
        }
        const verdict = this.books.tryAdmit(node, head.rec, t, head.tenantPart);
        if (verdict === "wait") break;
        node.waiters.shift();
        this.#answer(head.id, head.tenantPart, verdict === "admitted" ? STATE.ok : STATE.refused, t);
      }
    } else {
      this.flow.serveWaiting(node, t);
    }
    this.flow.maybeRefill(node, t);
  }

  #onTimeout(id, serial, t) {
    const req = this.#records[id];
    if (req === undefined || req.serial !== serial) return;
    if (req.admit === STATE.pending) this.#answer(id, true, STATE.unavailable, t, true);
    if (req.take === STATE.pending) this.#answer(id, false, STATE.unavailable, t, true);
  }

  /** One shard's answer leaves at `at` (the caller has it one trip later); with both in, the decision. */
  #answer(id, tenantPart, state, at, atCaller = false) {
    const req = this.#records[id];
    this.#unpark(req, tenantPart);
    const back = atCaller ? 0 : this.oneWay(req.colo, req.region);
    if (tenantPart) {
      req.admit = state;
      req.admitAt = at + back;
    } else {
      req.take = state;
      req.takeAt = at + back;
    }
    if (req.admit !== STATE.pending && req.take !== STATE.pending) this.#finalize(id, Math.max(req.admitAt, req.takeAt));
  }

  /** The caller has both answers at `now` (their decisions ran in event order; this only looks ahead). */
  #finalize(id, now) {
    const req = this.#records[id];
    const latency = now - req.t;
    this.recordLatency(req, latency);
    if (req.signed && req.t >= this.warmupMs && req.t < this.cutFromMs) {
      // The alternative: nonces kept by the tenant's home object, asked in parallel (one more far trip).
      const home = this.world.tenants[req.tenant].home;
      this.nonceAtHome[req.region].add(Math.max(latency, rttMs(this.world, req.colo, home) + SERVICE_MS.admit), req.w);
    }
    this.#records[id] = undefined;
    this.#free.push(id);
    const admitted = req.admit === STATE.ok && req.take === STATE.ok;
    if (req.admit === STATE.ok && !admitted) {
      // The global bucket refused: the tenant shard's hold is released (the request still counts, as today).
      this.oracle.end(req.tenant, req.w, req.estCost, 0);
      this.#toShard(EV.release, req.shard, req.colo, req.tenant, req.w, 0, req.estCost, 0, now);
    }
    if (req.take === STATE.refused) this.globalRefused += req.w;
    if (!admitted) {
      const limited = req.admit === STATE.refused || req.take === STATE.refused;
      this.outcome(limited ? "limited" : "unavailable", req.w);
      this.ledger.audit(this.auditPacks.emit(this.#packer(req.shard), now, req.w), req.w);
      return;
    }
    this.verdict(req, req.tenantBits, req.takeCounted);
    this.outcome("admitted", req.w);
    const failing = upstreamFailing(this.world, req.upstream, now);
    if (failing) this.stormCalls += req.w;
    this.edge.outcome(req, !failing, now + (failing ? FAILURE_LATENCY_MS : 0));
    const end = this.events.at(now + (failing ? FAILURE_LATENCY_MS : req.durationMs), EV.end);
    const ev = this.events;
    ev.a[end] = req.shard.index;
    ev.b[end] = req.colo;
    ev.c[end] = req.tenant;
    ev.d[end] = req.w * 2 + (failing ? 1 : 0);
    ev.x[end] = req.estCost;
    ev.y[end] = failing ? 0 : req.actualCost;
  }

  #toShard(type, shard, colo, tenant, w, failed, estCost, actualCost, t) {
    const ev = this.events.at(t + this.oneWay(colo, shard.region), type);
    this.events.a[ev] = shard.index;
    this.events.c[ev] = tenant;
    this.events.d[ev] = w * 2 + failed;
    this.events.x[ev] = estCost;
    this.events.y[ev] = actualCost;
  }

  #packer(shard) {
    this.billingPacks.ensure(shard.objectId + 1);
    this.auditPacks.ensure(shard.objectId + 1);
    return shard.objectId;
  }

  /** The body ended: the truth settles now; the shard hears of it one trip later (in the caller's region). */
  #onEnd(id) {
    const ev = this.events;
    const w = ev.d[id] >> 1;
    const failed = ev.d[id] & 1;
    this.oracle.end(ev.c[id], w, ev.x[id], ev.y[id]);
    if (failed) this.outcome("upstreamFailed", w);
    this.#toShard(failed ? EV.release : EV.settle, this.books.nodes[ev.a[id]], ev.b[id], ev.c[id], w, failed, ev.x[id], ev.y[id], this.now);
  }

  #onSettle(id) {
    const ev = this.events;
    const shard = this.books.nodes[ev.a[id]];
    const w = ev.d[id] >> 1;
    const settle = ev.type[id] === EV.settle;
    const wait = this.objects.arrive(shard.objectId, ev.time[id], w, settle ? SERVICE_MS.settle : SERVICE_MS.release);
    if (wait < 0) {
      // A settlement is retried until the shard takes it: the units it frees must come back.
      const again = this.events.at(ev.time[id] + 100, ev.type[id]);
      for (const f of ["a", "c", "d", "x", "y"]) ev[f][again] = ev[f][id];
      return;
    }
    shard.refund(B.bal, w * (ev.x[id] - ev.y[id]));
    shard.refund(B.slot, w);
    shard.spentUnreported += w * ev.y[id];
    const e = this.#packer(shard);
    // A release after a global refusal was audited with the refusal; an ended request is audited here.
    if (settle) this.ledger.billing(this.billingPacks.emit(e, this.now, w), w);
    if (settle || (ev.d[id] & 1) === 1) this.ledger.audit(this.auditPacks.emit(e, this.now, w), w);
    if (shard.waiters.length > 0) this.afterGrant(shard, this.now);
  }

  isolateReplaced(slot) {
    super.isolateReplaced(slot);
    this.edge.isolateReplaced(slot);
  }

  askProbe(req, upstream) {
    return this.edge.askProbe(req, upstream);
  }

  startSecond(second) {
    this.edge.start(this.now);
    this.books.startSecond(second, this.now);
  }

  sampleSecond(second) {
    return this.books.sampleSecond(second, this.now);
  }
}
