// Today's design, as the code on main does it (src/guard/admission.ts, src/global-limit/gate.ts,
// src/steps/record-billing.ts, src/billing/emit.ts, src/metrics/flush.ts, src/upstream/breaker.ts):
// - admit(): one call to the tenant's one TenantGuard, wherever it was created, in parallel with take()
//   on GlobalLimiter "global"; settle() or release() to the same TenantGuard when the body ends;
// - the object unreachable or overloaded: rate limits fail open, the balance fails closed (unless the
//   tenant's fail_policy.balance is open), a signed request fails closed; the global bucket fails open;
// - billing and audit events packed per isolate in 20-ms windows;
// - metrics: each isolate merges into GatewayMetrics "global" every 5 s or every 1,000 increments;
// - breakers: every failure record()ed at once, successes summed per isolate per second, a stale view
//   refreshed with state() in the background.
import { SERVICE_MS } from "../model/calibration.mjs";
import { KIND } from "../model/objects.mjs";
import { AUDIT_PER_PACK, BILLING_PER_PACK, PackCounter } from "../model/queues.mjs";
import { upstreamFailing } from "../model/world.mjs";
import { WINDOW_MS } from "../model/budgets.mjs";
import { TenantBook } from "../model/budgets.mjs";
import { ADMIT_TIMEOUT_MS, DesignBase, FAILURE_LATENCY_MS } from "./base.mjs";
import { TodayEdge } from "./today-edge.mjs";

const GLOBAL_TIMEOUT_MS = 250;
const EV = { admit: 1, take: 2, finalize: 3, end: 4, settle: 5, release: 6, refund: 7 };
export const TODAY_EVENTS = EV;
const STATE = { pending: 0, ok: 1, refused: 2, unavailable: 3 };

export class TodayDesign extends DesignBase {
  #guards = [];
  #books = [];
  #records = [];
  #freeRecords = [];

  constructor(world, isolates) {
    super(world, isolates, "today", "fixed");
    this.limiter = this.objects.create(KIND.GlobalLimiter, world.globalHome, "GlobalLimiter global");
    this.limiterWindow = -1;
    this.limiterCount = 0;
    this.edge = new TodayEdge(this);
    this.billingPacks = new PackCounter(isolates.count, 20, BILLING_PER_PACK);
    this.auditPacks = new PackCounter(isolates.count, 20, AUDIT_PER_PACK);
    this.lostSettlements = 0;
    /** Global takes the overloaded (or unreachable, or slow) GlobalLimiter did not decide: they fail open. */
    this.globalFailOpen = 0;
    this.orphanedHolds = 0;
  }

  #guard(tenantId) {
    if (this.#guards[tenantId] === undefined) {
      const tenant = this.world.tenants[tenantId];
      this.#guards[tenantId] = this.objects.create(KIND.TenantGuard, tenant.home, `TenantGuard ${tenantId}`);
      this.#books[tenantId] = new TenantBook(tenant);
    }
    return this.#guards[tenantId];
  }

  arrive(req) {
    const upstream = this.route(req);
    if (upstream === -1) {
      this.outcome("circuitOpen", req.w);
      this.#audit(req.slot, this.now, req.w);
      return;
    }
    req.upstream = upstream;
    this.edge.refreshView(req.slot, upstream);
    const tenant = this.world.tenants[req.tenant];
    const home = tenant.home;
    const guard = this.#guard(req.tenant);
    const id = this.#newRecord(req);
    const rec = this.#records[id];
    rec.guard = guard;
    if (this.reachable(req.region, home)) {
      const ev = this.events.at(req.t + this.oneWay(req.colo, home), EV.admit);
      this.events.a[ev] = id;
    } else {
      rec.admit = STATE.unavailable;
      rec.admitAt = req.t + ADMIT_TIMEOUT_MS;
    }
    if (this.reachable(req.region, this.world.globalHome)) {
      const ev = this.events.at(req.t + this.oneWay(req.colo, this.world.globalHome), EV.take);
      this.events.a[ev] = id;
    } else {
      rec.take = STATE.unavailable;
      rec.takeAt = req.t + GLOBAL_TIMEOUT_MS;
      this.globalFailOpen += req.w;
    }
    this.#maybeFinalize(id);
  }

  handle(id) {
    const ev = this.events;
    switch (ev.type[id]) {
      case EV.admit:
        return this.#onAdmit(ev.a[id], ev.time[id]);
      case EV.take:
        return this.#onTake(ev.a[id], ev.time[id]);
      case EV.finalize:
        return this.#finalize(ev.a[id]);
      case EV.end:
        return this.#onEnd(id);
      case EV.settle:
      case EV.release:
        return this.#onSettle(id);
      case EV.refund:
        return void this.objects.arrive(this.limiter, ev.time[id], ev.d[id], SERVICE_MS.refund);
      default:
        return this.edge.handle(id);
    }
  }

  #onAdmit(id, arrivedAt) {
    const req = this.#records[id];
    const rec = req;
    const wait = this.objects.arrive(rec.guard, arrivedAt, req.w, SERVICE_MS.admit);
    const back = this.oneWay(req.colo, this.world.tenants[req.tenant].home);
    if (wait < 0) {
      rec.admit = STATE.unavailable;
      rec.admitAt = arrivedAt + back;
    } else {
      const book = this.#books[req.tenant];
      const refused = book.refusal(arrivedAt, req.w, req.tokens, req.estCost);
      if (refused === 0) {
        book.commit(arrivedAt, req.w, req.tokens, req.estCost);
        // The truth sees the hold when the object takes it (a later global refusal releases it, as the guard does).
        rec.tenantBits = this.oracle.admitTenant(req.tenant, arrivedAt, req.w, req.tokens, req.estCost);
      }
      else this.oracle.refusedTenant(req.tenant, arrivedAt, req.w, req.tokens, req.estCost);
      rec.admit = refused === 0 ? STATE.ok : STATE.refused;
      rec.held = refused === 0;
      rec.admitAt = arrivedAt + wait + SERVICE_MS.admit + back;
    }
    if (rec.admitAt - req.t > ADMIT_TIMEOUT_MS) {
      // The caller gave up; a hold taken meanwhile is never settled (it expires after 10 minutes).
      if (rec.held) {
        this.orphanedHolds += req.w;
        this.oracle.end(req.tenant, req.w, req.estCost, 0);
      }
      rec.held = false;
      rec.admit = STATE.unavailable;
      rec.admitAt = req.t + ADMIT_TIMEOUT_MS;
    }
    this.#maybeFinalize(id);
  }

  #onTake(id, t) {
    const req = this.#records[id];
    const rec = req;
    const wait = this.objects.arrive(this.limiter, t, req.w, SERVICE_MS.take);
    const back = this.oneWay(req.colo, this.world.globalHome);
    if (wait < 0) {
      rec.take = STATE.unavailable;
      rec.takeAt = t + back;
      this.globalFailOpen += req.w;
    } else {
      const window = Math.floor(t / WINDOW_MS);
      if (window !== this.limiterWindow) {
        this.limiterWindow = window;
        this.limiterCount = 0;
      }
      const fits = this.limiterCount + req.w <= this.world.globalRpm;
      if (fits) this.limiterCount += req.w;
      rec.takeDecidedAt = t;
      rec.take = fits ? STATE.ok : STATE.refused;
      rec.takeCounted = fits;
      rec.takeAt = t + wait + SERVICE_MS.take + back;
    }
    if (rec.takeAt - req.t > GLOBAL_TIMEOUT_MS) {
      if (rec.take !== STATE.unavailable) this.globalFailOpen += req.w;
      rec.take = STATE.unavailable;
      rec.takeAt = req.t + GLOBAL_TIMEOUT_MS;
    }
    this.#maybeFinalize(id);
  }

  #maybeFinalize(id) {
    const rec = this.#records[id];
    if (rec.admit === STATE.pending || rec.take === STATE.pending) return;
    const ev = this.events.at(Math.max(rec.admitAt, rec.takeAt), EV.finalize);
    this.events.a[ev] = id;
  }

  /** Both answers are in: the combined decision (src/global-limit/gate.ts and the steps' fail policies). */
  #finalize(id) {
    const req = this.#records[id];
    const rec = req;
    const tenant = this.world.tenants[req.tenant];
    this.recordLatency(req, this.now - req.t);
    let admitted = false;
    let failOpen = false;
    if (rec.admit === STATE.ok) {
      admitted = rec.take !== STATE.refused;
      if (!admitted) {
        this.oracle.end(req.tenant, req.w, req.estCost, 0);
        this.#sendToGuard(req, rec.guard, EV.release, this.now, 0);
      }
    } else if (rec.admit === STATE.unavailable) {
      // Fail policy: a signed request or a closed balance policy refuses; otherwise limits fail open.
      failOpen = !req.signed && tenant.balanceFailOpen && !tenant.rateLimitFailClosed && rec.take !== STATE.refused;
      admitted = failOpen;
    }
    if (!admitted && rec.takeCounted) this.#refund(req);
    if (!admitted) {
      this.outcome(rec.admit === STATE.refused || rec.take === STATE.refused ? "limited" : "unavailable", req.w);
      this.#audit(req.slot, this.now, req.w);
      this.#freeRecord(id);
      return;
    }
    this.outcome(failOpen ? "failOpen" : "admitted", req.w);
    // Fail open: no object decided; the truth counts the request now. The global bucket counts it when its
    // object decided, or now when it failed open too.
    if (failOpen) rec.tenantBits = this.oracle.admitTenant(req.tenant, this.now, req.w, req.tokens, req.estCost);
    const globalAt = rec.take === STATE.ok ? rec.takeDecidedAt : this.now;
    this.verdict(req, rec.tenantBits, this.oracle.admitGlobal(globalAt, req.w));
    const failing = upstreamFailing(this.world, req.upstream, this.now);
    if (failing) this.stormCalls += req.w;
    this.edge.outcome(req, !failing, this.now + (failing ? FAILURE_LATENCY_MS : 0));
    const end = this.events.at(this.now + (failing ? FAILURE_LATENCY_MS : req.durationMs), EV.end);
    const ev = this.events;
    ev.a[end] = req.tenant;
    ev.b[end] = req.colo;
    ev.c[end] = req.slot;
    ev.d[end] = req.w * 4 + (rec.held ? 2 : 0) + (failing ? 1 : 0);
    ev.x[end] = req.estCost;
    ev.y[end] = failing ? 0 : req.actualCost;
    this.#freeRecord(id);
  }

  /** The response body ended: the truth settles at once; the TenantGuard hears of it one trip later. */
  #onEnd(id) {
    const ev = this.events;
    const tenantId = ev.a[id];
    const w = ev.d[id] >> 2;
    const held = (ev.d[id] & 2) !== 0;
    const failed = (ev.d[id] & 1) !== 0;
    this.oracle.end(tenantId, w, ev.x[id], ev.y[id]);
    if (failed) this.outcome("upstreamFailed", w);
    if (!failed) this.ledger.billing(this.billingPacks.emit(ev.c[id], this.now, w), w);
    this.#audit(ev.c[id], this.now, w);
    if (!held) return;
    const req = { tenant: tenantId, colo: ev.b[id], w, estCost: ev.x[id], actualCost: ev.y[id] };
    this.#sendToGuard(req, this.#guards[tenantId], failed ? EV.release : EV.settle, this.now, ev.y[id]);
  }

  #sendToGuard(req, guard, type, t, actualCost) {
    const home = this.world.tenants[req.tenant].home;
    if (!this.reachable(this.regionOfColo(req.colo), home, t)) {
      this.lostSettlements += req.w;
      return;
    }
    const ev = this.events.at(t + this.oneWay(req.colo, home), type);
    this.events.a[ev] = req.tenant;
    this.events.d[ev] = req.w;
    this.events.x[ev] = req.estCost;
    this.events.y[ev] = actualCost;
  }

  #onSettle(id) {
    const ev = this.events;
    const tenantId = ev.a[id];
    const w = ev.d[id];
    const wait = this.objects.arrive(this.#guards[tenantId], ev.time[id], w, ev.type[id] === EV.settle ? SERVICE_MS.settle : SERVICE_MS.release);
    if (wait < 0) {
      this.lostSettlements += w;
      return;
    }
    this.#books[tenantId].settle(w, ev.x[id], ev.y[id]);
  }

  #refund(req) {
    if (!this.reachable(req.region, this.world.globalHome)) return;
    this.limiterCount -= req.w;
    const ev = this.events.at(this.now + this.oneWay(req.colo, this.world.globalHome), EV.refund);
    this.events.d[ev] = req.w;
  }

  #audit(slot, t, w) {
    this.ledger.audit(this.auditPacks.emit(slot, t, w), w);
  }

  /** The request itself carries the two answers while they are awaited. */
  #newRecord(req) {
    req.admit = req.take = STATE.pending;
    const id = this.#freeRecords.length > 0 ? this.#freeRecords.pop() : this.#records.length;
    this.#records[id] = req;
    return id;
  }

  #freeRecord(id) {
    this.#records[id] = undefined;
    this.#freeRecords.push(id);
  }

  isolateReplaced(slot) {
    super.isolateReplaced(slot);
    this.edge.isolateReplaced(slot);
  }

  askProbe(req, upstream) {
    return this.edge.askProbe(req, upstream);
  }

  startSecond() {}

  sampleSecond() {
    return this.edge.sampleSecond();
  }
}
