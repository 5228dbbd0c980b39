// The proposed design: admission in the caller's region, exact.
// - A request goes to a regional shard of its tenant (an object created with the caller's location
//   hint; shard = hash(nonce) mod K, K sized so each shard stays far below the 1,000 calls/s ceiling).
//   The shard admits from the leases it holds (leases.mjs, lease-flow.mjs): requests, tokens, balance,
//   concurrency slots and global-bucket units, refilled ahead of need from the tenant's authoritative
//   TenantGuard (through a regional aggregator when the region has several shards), returned when idle.
// - A signed request's nonce is checked in the same shard: the region is part of the signed material,
//   so a replay elsewhere fails verification; the shard is the nonce's hash, so a replay in the region
//   meets the same shard. A request signed for another region is refused and re-signed by the client.
// - settle() and the billing and audit events go to the shard that admitted (it packs them for the queues).
// - breakers and metrics: fan-in.mjs.
import { SERVICE_MS } from "../model/calibration.mjs";
import { BILLING_PER_PACK, AUDIT_PER_PACK, PackCounter } from "../model/queues.mjs";
import { REGIONS, rttMs, upstreamFailing } from "../model/world.mjs";
import { Histogram } from "../lib/histogram.mjs";
import { ADMIT_TIMEOUT_MS, DesignBase, FAILURE_LATENCY_MS } from "./base.mjs";
import { FanInEdge } from "./fan-in.mjs";
import { B } from "./leases.mjs";
import { LeaseFlow } from "./lease-flow.mjs";
import { ProposedBooks } from "./proposed-books.mjs";

const EV = { admit: 80, end: 82, settle: 83, timeout: 84 };
/** Calls a shard may take per second by design: half the platform's ceiling. */
export const SHARD_TARGET_CALLS = 500;
/** A client refused for signing another region re-signs and sends again after this long. */
const CLIENT_RESIGN_MS = 40;
const OUTCOME = { admitted: 1, limited: 2, unavailable: 3 };

export class ProposedDesign extends DesignBase {
  #records = [];
  #free = [];
  #serial = 0;

  constructor(world, isolates) {
    super(world, isolates, "proposed", "sliding");
    this.edge = new FanInEdge(this);
    const w = world.config.batch;
    this.flow = new LeaseFlow(this, [2 * w, 2 * w * 1500, 2 * w * 1500, 2 * w, 2 * w]);
    this.books = new ProposedBooks(this);
    this.billingPacks = new PackCounter(1024, 1000, BILLING_PER_PACK);
    this.auditPacks = new PackCounter(1024, 1000, AUDIT_PER_PACK);
    this.edgeAudit = new PackCounter(isolates.count, 1000, AUDIT_PER_PACK);
    this.nonceAtHome = REGIONS.map(() => new Histogram());
    this.regionMismatches = 0;
    /** Requests that waited at their shard for a refill (admission off the fast path). */
    this.parked = 0;
  }

  needOf(node, b) {
    let need = 0;
    if (node.role === "shard") {
      for (const wtr of node.waiters) if (!wtr.rec.done) need += wtr.need[b];
    } else {
      for (const wtr of node.waiters) if (wtr.b === b) need += wtr.need;
    }
    return need;
  }

  /** The least units of budget b that let the first waiter through. */
  headOf(node, b) {
    if (node.role !== "shard") return Math.min(...node.waiters.filter((w) => w.b === b).map((w) => w.head), Infinity);
    for (const wtr of node.waiters) if (!wtr.rec.done) return wtr.need[b];
    return 0;
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
    req.need = this.books.needOf(req);
    req.serial = ++this.#serial;
    const id = this.#free.length > 0 ? this.#free.pop() : this.#records.length;
    this.#records[id] = req;
    this.#sendAdmit(id, this.now);
  }

  #sendAdmit(id, t) {
    const req = this.#records[id];
    const ev = this.events.at(t + this.oneWay(req.colo, req.region), EV.admit);
    this.events.a[ev] = id;
  }

  handle(id) {
    const ev = this.events;
    switch (ev.type[id]) {
      case EV.admit:
        return this.#onAdmit(ev.a[id], ev.time[id]);
      case EV.timeout:
        return this.#onTimeout(ev.a[id], ev.d[id], ev.time[id]);
      case EV.end:
        return this.#onEnd(id);
      case EV.settle:
        return this.#onSettle(id);
      default:
        if (ev.type[id] >= 60 && ev.type[id] < 70) return this.flow.handle(id);
        return this.edge.handle(id);
    }
  }

  #onAdmit(id, t) {
    const req = this.#records[id];
    const rec = req;
    const shard = req.shard;
    const wait = this.objects.arrive(shard.objectId, t, req.w, SERVICE_MS.admit);
    if (wait < 0) return this.#decide(id, OUTCOME.unavailable, t);
    const at = t + wait + req.w * SERVICE_MS.admit;
    if (req.signed && req.regionMismatch && rec.attempt === 0) {
      // Signed for another region: refused before any budget is touched; the client re-signs and retries.
      rec.attempt = 1;
      this.regionMismatches += req.w;
      this.#sendAdmit(id, at + this.oneWay(req.colo, req.region) + CLIENT_RESIGN_MS);
      return;
    }
    const verdict = shard.waiters.length > 0 ? "wait" : this.books.tryAdmit(shard, rec, at);
    if (verdict === "wait") {
      this.parked += req.w;
      shard.waiters.push({ rec, need: rec.need, id });
      const ev = this.events.at(req.t + ADMIT_TIMEOUT_MS, EV.timeout);
      this.events.a[ev] = id;
      this.events.d[ev] = rec.serial;
      this.flow.maybeRefill(shard, at);
      return;
    }
    this.#decide(id, verdict === "admitted" ? OUTCOME.admitted : OUTCOME.limited, at);
    this.flow.maybeRefill(shard, at);
  }

  /** The decision leaves the shard at `at`; the caller has it one trip later. */
  #decide(id, outcome, at) {
    const req = this.#records[id];
    req.done = true;
    this.#finalize(id, outcome, at + this.oneWay(req.colo, req.region));
  }

  /** Units arrived at a node: a shard admits its waiting requests in order; a relay serves its children. */
  afterGrant(node, t) {
    if (node.role === "shard") {
      while (node.waiters.length > 0) {
        const head = node.waiters[0];
        if (head.rec.done) {
          node.waiters.shift();
          continue;
        }
        const verdict = this.books.tryAdmit(node, head.rec, t);
        if (verdict === "wait") break;
        node.waiters.shift();
        this.#decide(head.id, verdict === "admitted" ? OUTCOME.admitted : OUTCOME.limited, t);
      }
    } else {
      this.flow.serveWaiting(node, t);
    }
    this.flow.maybeRefill(node, t);
  }

  #onTimeout(id, serial, t) {
    const req = this.#records[id];
    if (req === undefined || req.serial !== serial || req.done) return;
    req.done = true;
    globalThis.__timeout?.(this, req, t);
    this.#finalize(id, OUTCOME.unavailable, t);
  }

  /** The caller has the decision at `now` (the decision's events run in order; this only looks ahead). */
  #finalize(id, outcome, now) {
    const req = this.#records[id];
    const rec = req;
    const latency = now - req.t;
    this.recordLatency(req, latency);
    if (req.signed && req.t >= this.warmupMs) {
      // The alternative: nonces kept by the tenant's home object, asked in parallel (one more far trip).
      const home = this.world.tenants[req.tenant].home;
      this.nonceAtHome[req.region].add(Math.max(latency, rttMs(this.world, req.colo, home) + SERVICE_MS.admit), req.w);
    }
    this.#records[id] = undefined;
    this.#free.push(id);
    if (outcome !== OUTCOME.admitted) {
      this.outcome(outcome === OUTCOME.limited ? "limited" : "unavailable", req.w);
      this.ledger.audit(this.auditPacks.emit(this.#packer(rec.shard), now, req.w), req.w);
      return;
    }
    this.outcome("admitted", req.w);
    const failing = upstreamFailing(this.world, req.upstream, now);
    if (failing) this.stormCalls += req.w;
    this.edge.outcome(req, !failing, now + (failing ? FAILURE_LATENCY_MS : 0));
    const end = this.events.at(now + (failing ? FAILURE_LATENCY_MS : req.durationMs), EV.end);
    const ev = this.events;
    ev.a[end] = rec.shard.index;
    ev.b[end] = req.colo;
    ev.c[end] = req.tenant;
    ev.d[end] = req.w * 2 + (failing ? 1 : 0);
    ev.x[end] = req.estCost;
    ev.y[end] = failing ? 0 : req.actualCost;
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
    const failed = (ev.d[id] & 1) === 1;
    this.oracle.end(ev.c[id], w, ev.x[id], ev.y[id]);
    if (failed) this.outcome("upstreamFailed", w);
    const shard = this.books.nodes[ev.a[id]];
    const settle = this.events.at(this.now + this.oneWay(ev.b[id], shard.region), EV.settle);
    ev.a[settle] = ev.a[id];
    ev.d[settle] = ev.d[id];
    ev.x[settle] = ev.x[id];
    ev.y[settle] = ev.y[id];
  }

  #onSettle(id) {
    const ev = this.events;
    const shard = this.books.nodes[ev.a[id]];
    const w = ev.d[id] >> 1;
    const failed = (ev.d[id] & 1) === 1;
    const wait = this.objects.arrive(shard.objectId, ev.time[id], w, failed ? SERVICE_MS.release : SERVICE_MS.settle);
    if (wait < 0) {
      // A settlement is retried until the shard takes it: the units it frees must come back.
      const again = this.events.at(ev.time[id] + 100, EV.settle);
      for (const f of ["a", "d", "x", "y"]) ev[f][again] = ev[f][id];
      return;
    }
    shard.refund(B.bal, w * (ev.x[id] - ev.y[id]));
    shard.refund(B.slot, w);
    shard.spentUnreported += w * ev.y[id];
    const e = this.#packer(shard);
    if (!failed) this.ledger.billing(this.billingPacks.emit(e, this.now, w), w);
    this.ledger.audit(this.auditPacks.emit(e, this.now, w), w);
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
