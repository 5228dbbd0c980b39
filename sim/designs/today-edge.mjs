// Today's isolate-side traffic to the objects every isolate shares: UpstreamHealth per upstream (state()
// refreshes of a view older than 1 s, a record() per failure, successes summed per isolate per second,
// probe permits) and GatewayMetrics "global" (a merge every 5 s, or at once past 1,000 increments).
import { Breaker, PHASE } from "../model/breaker.mjs";
import { SERVICE_MS } from "../model/calibration.mjs";
import { KIND } from "../model/objects.mjs";
import { UPSTREAMS, upstreamFailing } from "../model/world.mjs";
import { FAILURE_LATENCY_MS, METRIC_EVENTS_PER_REQUEST } from "./base.mjs";

const EV = { state: 20, learn: 21, record: 22, successFlush: 23, acquire: 24, metricsFlush: 25, merge: 26 };
const VIEW_TTL_MS = 1000;
const SUCCESS_BATCH_MS = 1000;
const FLUSH_INTERVAL_MS = 5000;
const FLUSH_EVENTS = 1000;
const MAX_PENDING_BATCHES = 12;

export class TodayEdge {
  constructor(design) {
    this.d = design;
    const world = design.world;
    const slots = design.isolates.count * UPSTREAMS.length;
    this.health = UPSTREAMS.map((name, u) => design.objects.create(KIND.UpstreamHealth, world.upstreamHomes[u], `UpstreamHealth ${name}`));
    this.breakers = UPSTREAMS.map(() => new Breaker());
    this.metrics = design.objects.create(KIND.GatewayMetrics, world.globalHome, "GatewayMetrics global");
    this.refreshing = new Uint8Array(slots);
    this.acquiring = new Uint8Array(slots);
    this.pendingOk = new Float64Array(slots);
    this.okScheduled = new Uint8Array(slots);
    this.metricEvents = new Float64Array(design.isolates.count);
    this.metricTimer = new Uint8Array(design.isolates.count);
    this.metricPending = new Int32Array(design.isolates.count);
    this.droppedBatches = 0;
  }

  #send(slot, upstream, type, at) {
    const d = this.d;
    const colo = d.isolates.coloOf[slot];
    const home = d.world.upstreamHomes[upstream];
    if (!d.reachable(d.regionOfColo(colo), home, at)) return -1;
    const ev = d.events.at(at + d.oneWay(colo, home), type);
    d.events.a[ev] = slot;
    d.events.b[ev] = upstream;
    d.events.c[ev] = d.isolates.generation[slot];
    return ev;
  }

  refreshView(slot, upstream) {
    const i = slot * UPSTREAMS.length + upstream;
    if (this.d.now - this.d.viewFetchedAt[i] < VIEW_TTL_MS || this.refreshing[i]) return;
    if (this.#send(slot, upstream, EV.state, this.d.now) !== -1) this.refreshing[i] = 1;
  }

  askProbe(req, upstream) {
    const i = req.slot * UPSTREAMS.length + upstream;
    if (!this.acquiring[i] && this.#send(req.slot, upstream, EV.acquire, this.d.now) !== -1) this.acquiring[i] = 1;
    return false;
  }

  /** An upstream call's outcome, as src/upstream/breaker.ts and src/metrics/flush.ts report it. */
  outcome(req, ok, at) {
    const i = req.slot * UPSTREAMS.length + req.upstream;
    if (ok) {
      this.pendingOk[i] += req.w;
      if (!this.okScheduled[i]) {
        this.okScheduled[i] = 1;
        const ev = this.d.events.at(at + SUCCESS_BATCH_MS, EV.successFlush);
        this.d.events.a[ev] = req.slot;
        this.d.events.b[ev] = req.upstream;
        this.d.events.c[ev] = this.d.isolates.generation[req.slot];
      }
    } else {
      this.#flushOk(req.slot, req.upstream, at);
      this.#record(req.slot, req.upstream, at, false, req.w, -1);
    }
    this.#countMetrics(req.slot, req.w * METRIC_EVENTS_PER_REQUEST, at);
  }

  #record(slot, upstream, at, ok, count, probeCycle) {
    const ev = this.#send(slot, upstream, EV.record, at);
    if (ev === -1) return;
    this.d.events.d[ev] = count;
    this.d.events.x[ev] = ok ? 1 : 0;
    this.d.events.y[ev] = probeCycle;
  }

  #flushOk(slot, upstream, at) {
    const i = slot * UPSTREAMS.length + upstream;
    if (this.pendingOk[i] > 0) this.#record(slot, upstream, at, true, this.pendingOk[i], -1);
    this.pendingOk[i] = 0;
  }

  #countMetrics(slot, n, at) {
    this.metricEvents[slot] += n;
    if (this.metricEvents[slot] >= FLUSH_EVENTS) return this.#flushMetrics(slot, at);
    if (this.metricTimer[slot]) return;
    this.metricTimer[slot] = 1;
    const ev = this.d.events.at(at + FLUSH_INTERVAL_MS, EV.metricsFlush);
    this.d.events.a[ev] = slot;
    this.d.events.c[ev] = this.d.isolates.generation[slot];
  }

  #flushMetrics(slot, at) {
    const d = this.d;
    const batches = this.metricPending[slot] + (this.metricEvents[slot] > 0 ? 1 : 0);
    this.metricEvents[slot] = 0;
    this.metricPending[slot] = 0;
    if (batches === 0) return;
    const colo = d.isolates.coloOf[slot];
    if (!d.reachable(d.regionOfColo(colo), d.world.globalHome, at)) return this.#keep(slot, batches);
    const ev = d.events.at(at + d.oneWay(colo, d.world.globalHome), EV.merge);
    d.events.a[ev] = slot;
    d.events.c[ev] = d.isolates.generation[slot];
    d.events.d[ev] = batches;
  }

  #keep(slot, batches) {
    const kept = Math.min(MAX_PENDING_BATCHES, this.metricPending[slot] + batches);
    this.droppedBatches += this.metricPending[slot] + batches - kept;
    this.metricPending[slot] = kept;
  }

  handle(id) {
    const d = this.d;
    const ev = d.events;
    const t = ev.time[id];
    const slot = ev.a[id];
    const upstream = ev.b[id];
    const live = d.isolates.generation[slot] === ev.c[id];
    const i = slot * UPSTREAMS.length + upstream;
    switch (ev.type[id]) {
      case EV.state:
      case EV.acquire: {
        const acquire = ev.type[id] === EV.acquire;
        const wait = d.objects.arrive(this.health[upstream], t, 1, SERVICE_MS.state);
        if (live) (acquire ? this.acquiring : this.refreshing)[i] = 0;
        if (wait < 0) return;
        const breaker = this.breakers[upstream];
        const granted = acquire ? breaker.acquire(t) : breaker.state(t) === PHASE.closed;
        this.#reply(slot, upstream, t + wait, ev.c[id]);
        if (acquire && granted && breaker.phase === PHASE.halfOpen) {
          // The probe: one call to the upstream, its outcome recorded with the cycle that granted it.
          const at = t + wait + FAILURE_LATENCY_MS;
          this.#record(slot, upstream, at, !upstreamFailing(d.world, upstream, at), 1, breaker.cycle);
        }
        return;
      }
      case EV.record: {
        const wait = d.objects.arrive(this.health[upstream], t, 1, SERVICE_MS.record);
        if (wait < 0) return;
        this.breakers[upstream].record(t, ev.x[id] === 1, ev.d[id], ev.y[id] >= 0);
        this.#reply(slot, upstream, t + wait, ev.c[id]);
        return;
      }
      case EV.learn:
        d.learn(slot, upstream, ev.d[id] & 3, ev.x[id], ev.d[id] >> 2, ev.c[id]);
        return;
      case EV.successFlush:
        if (!live) return;
        this.okScheduled[i] = 0;
        this.#flushOk(slot, upstream, t);
        return;
      case EV.metricsFlush:
        if (!live) return;
        this.metricTimer[slot] = 0;
        this.#flushMetrics(slot, t);
        return;
      case EV.merge: {
        const wait = d.objects.arrive(this.metrics, t, ev.d[id], SERVICE_MS.merge);
        if (wait < 0 && live) this.#keep(slot, ev.d[id]);
        return;
      }
    }
  }

  /** The object's answer carries its state; the isolate's view takes it one trip later. */
  #reply(slot, upstream, at, generation) {
    const d = this.d;
    const breaker = this.breakers[upstream];
    const colo = d.isolates.coloOf[slot];
    const ev = d.events.at(at + d.oneWay(colo, d.world.upstreamHomes[upstream]), EV.learn);
    d.events.a[ev] = slot;
    d.events.b[ev] = upstream;
    d.events.c[ev] = generation;
    d.events.d[ev] = breaker.version * 4 + breaker.phase;
    d.events.x[ev] = breaker.openUntil;
  }

  isolateReplaced(slot) {
    const base = slot * UPSTREAMS.length;
    for (let u = 0; u < UPSTREAMS.length; u++) {
      this.refreshing[base + u] = this.acquiring[base + u] = this.okScheduled[base + u] = 0;
      this.pendingOk[base + u] = 0;
    }
    // Whatever the isolate had not merged yet is gone with it.
    if (this.metricEvents[slot] > 0 || this.metricPending[slot] > 0) this.droppedBatches += this.metricPending[slot] + 1;
    this.metricEvents[slot] = 0;
    this.metricPending[slot] = 0;
    this.metricTimer[slot] = 0;
  }

  sampleSecond() {
    return {};
  }
}
