// Bounded fan-in for breakers and metrics (the proposed design): isolates report to a leaf object in their
// region (one leaf per LEAF_FANIN isolates, chosen by hash), leaves to one root per region, roots to the
// global object. Every object hears from at most LEAF_FANIN children per interval, whatever the traffic:
// more traffic means more isolates, hence more leaves, never a busier object.
// - Breakers: an isolate reports each upstream's outcomes once a second (a failure brings its report
//   forward, at most every 250 ms); leaves forward every 250 ms to the region's UpstreamHealth root, which
//   runs the breaker on its region's outcomes; leaves answer isolates with the root's latest state.
// - Metrics: isolate -> leaf -> region root -> GatewayMetrics "global", every 5 s at each level.
import { Breaker, PHASE } from "../model/breaker.mjs";
import { SERVICE_MS } from "../model/calibration.mjs";
import { KIND } from "../model/objects.mjs";
import { REGIONS, UPSTREAMS, upstreamFailing } from "../model/world.mjs";
import { FAILURE_LATENCY_MS, METRIC_EVENTS_PER_REQUEST } from "./base.mjs";

export const LEAF_FANIN = 100;
const REPORT_MS = 1000;
const EARLY_REPORT_MS = 250;
const FORWARD_MS = 250;
const METRICS_MS = 5000;
const EV = { report: 40, learn: 41, forward: 42, rootReply: 43, leafTick: 44, acquire: 45, metricsTick: 46, metricsLeaf: 47, metricsRoot: 48, metricsGlobal: 49 };

export class FanInEdge {
  constructor(design) {
    this.d = design;
    const { isolates, world, objects } = design;
    const perRegion = REGIONS.map((_, r) => isolates.regionOfSlot.filter((x) => x === r).length);
    this.leaves = perRegion.map((n) => Math.max(1, Math.ceil(n / LEAF_FANIN)));
    // Breaker leaves and roots, per upstream and region.
    this.leafObject = UPSTREAMS.map((_, u) => REGIONS.map((name, r) => Array.from({ length: this.leaves[r] }, (_, k) => objects.create(KIND.FanIn, r, `breaker leaf ${UPSTREAMS[u]} ${name} ${k}`))));
    this.leafCounts = UPSTREAMS.map((_, u) => REGIONS.map((_, r) => Array.from({ length: this.leaves[r] }, () => ({ ok: 0, failed: 0, probes: [], phase: 0, openUntil: 0, version: 0, permits: 0, forwardedAt: -1e9 }))));
    this.rootObject = UPSTREAMS.map((name, u) => REGIONS.map((region, r) => objects.create(KIND.UpstreamHealth, r, `UpstreamHealth ${name}@${region}`)));
    this.rootBreaker = UPSTREAMS.map(() => REGIONS.map(() => new Breaker()));
    this.metricsLeaf = REGIONS.map((name, r) => Array.from({ length: this.leaves[r] }, (_, k) => objects.create(KIND.FanIn, r, `metrics leaf ${name} ${k}`)));
    this.metricsRoot = REGIONS.map((name, r) => objects.create(KIND.FanIn, r, `metrics root ${name}`));
    this.metrics = objects.create(KIND.GatewayMetrics, world.globalHome, "GatewayMetrics global");
    const slots = isolates.count * UPSTREAMS.length;
    this.pendingOk = new Float64Array(slots);
    this.pendingFailed = new Float64Array(slots);
    this.lastReport = new Float64Array(slots).fill(-1e9);
    this.scheduled = new Uint8Array(slots);
    this.acquiring = new Uint8Array(slots);
    this.metricEvents = new Float64Array(isolates.count);
    this.metricTimer = new Uint8Array(isolates.count);
    this.lostMetricEvents = 0;
    this.started = false;
  }

  #leafOf(slot) {
    return slot % this.leaves[this.d.isolates.regionOfSlot[slot]];
  }

  /** Starts the leaves' and roots' periodic forwarding (once). */
  start(now) {
    if (this.started) return;
    this.started = true;
    for (let u = 0; u < UPSTREAMS.length; u++) {
      for (let r = 0; r < REGIONS.length; r++) for (let k = 0; k < this.leaves[r]; k++) this.#at(now + this.d.rng.next() * FORWARD_MS, EV.leafTick, u, r, k);
    }
    for (let r = 0; r < REGIONS.length; r++) {
      for (let k = 0; k < this.leaves[r]; k++) this.#at(now + this.d.rng.next() * METRICS_MS, EV.metricsLeaf, 0, r, k);
      this.#at(now + this.d.rng.next() * METRICS_MS, EV.metricsRoot, 0, r, 0);
    }
  }

  #at(t, type, a, b, c) {
    const ev = this.d.events.at(t, type);
    this.d.events.a[ev] = a;
    this.d.events.b[ev] = b;
    this.d.events.c[ev] = c;
    return ev;
  }

  outcome(req, ok, at) {
    const i = req.slot * UPSTREAMS.length + req.upstream;
    if (ok) this.pendingOk[i] += req.w;
    else this.pendingFailed[i] += req.w;
    const due = ok ? this.lastReport[i] + REPORT_MS : this.lastReport[i] + EARLY_REPORT_MS;
    if (!this.scheduled[i]) {
      this.scheduled[i] = 1;
      const ev = this.#at(Math.max(at, due), EV.report, req.slot, req.upstream, this.d.isolates.generation[req.slot]);
      this.d.events.d[ev] = 0;
    }
    this.metricEvents[req.slot] += req.w * METRIC_EVENTS_PER_REQUEST;
    if (!this.metricTimer[req.slot]) {
      this.metricTimer[req.slot] = 1;
      this.#at(at + METRICS_MS, EV.metricsTick, req.slot, 0, this.d.isolates.generation[req.slot]);
    }
  }

  askProbe(req, upstream) {
    const i = req.slot * UPSTREAMS.length + upstream;
    if (this.acquiring[i]) return false;
    this.acquiring[i] = 1;
    const r = this.d.isolates.regionOfSlot[req.slot];
    const colo = this.d.isolates.coloOf[req.slot];
    this.#at(this.d.now + this.d.oneWay(colo, r), EV.acquire, req.slot, upstream, this.d.isolates.generation[req.slot]);
    return false;
  }

  handle(id) {
    const d = this.d;
    const ev = d.events;
    const t = ev.time[id];
    const [a, b, c] = [ev.a[id], ev.b[id], ev.c[id]];
    switch (ev.type[id]) {
      case EV.report: {
        // An isolate's report leaves: its pending counts go to its leaf (one trip in its region).
        const slot = a;
        const i = slot * UPSTREAMS.length + b;
        if (d.isolates.generation[slot] !== c) return;
        this.scheduled[i] = 0;
        this.lastReport[i] = t;
        const r = d.isolates.regionOfSlot[slot];
        const k = this.#leafOf(slot);
        const arrive = t + d.oneWay(d.isolates.coloOf[slot], r);
        const leaf = this.leafCounts[b][r][k];
        const wait = d.objects.arrive(this.leafObject[b][r][k], arrive, 1, SERVICE_MS.record);
        if (wait < 0) return;
        leaf.ok += this.pendingOk[i];
        leaf.failed += this.pendingFailed[i];
        this.pendingOk[i] = this.pendingFailed[i] = 0;
        this.#learn(slot, b, leaf, arrive + wait, c);
        return;
      }
      case EV.acquire: {
        const slot = a;
        const r = d.isolates.regionOfSlot[slot];
        const leaf = this.leafCounts[b][r][this.#leafOf(slot)];
        const wait = d.objects.arrive(this.leafObject[b][r][this.#leafOf(slot)], t, 1, SERVICE_MS.state);
        if (d.isolates.generation[slot] === c) this.acquiring[slot * UPSTREAMS.length + b] = 0;
        if (wait < 0) return;
        this.#learn(slot, b, leaf, t + wait, c);
        if (leaf.permits > 0) {
          leaf.permits--;
          const at = t + wait + FAILURE_LATENCY_MS;
          leaf.probes.push({ ok: !upstreamFailing(d.world, b, at) });
        }
        return;
      }
      case EV.learn:
        d.learn(a, b, ev.d[id] & 3, ev.x[id], ev.d[id] >> 2, c);
        return;
      case EV.leafTick: {
        // A leaf forwards what it gathered to its region's root (and comes back every FORWARD_MS).
        const [u, r, k] = [a, b, c];
        const leaf = this.leafCounts[u][r][k];
        this.#at(t + FORWARD_MS, EV.leafTick, u, r, k);
        // Nothing to forward: it still asks once a second, to learn the root's state.
        if (leaf.ok === 0 && leaf.failed === 0 && leaf.probes.length === 0 && t - leaf.forwardedAt < 1000) return;
        leaf.forwardedAt = t;
        const ev2 = this.#at(t + d.oneWayRegions(r, r), EV.forward, u, r, k);
        ev.x[ev2] = leaf.ok;
        ev.y[ev2] = leaf.failed;
        ev.d[ev2] = leaf.probes.length > 0 ? (leaf.probes[0].ok ? 1 : 2) : 0;
        leaf.ok = leaf.failed = 0;
        leaf.probes.length = 0;
        return;
      }
      case EV.forward: {
        const [u, r, k] = [a, b, c];
        const wait = d.objects.arrive(this.rootObject[u][r], t, 1, SERVICE_MS.record);
        if (wait < 0) return;
        const breaker = this.rootBreaker[u][r];
        if (ev.x[id] > 0) breaker.record(t, true, ev.x[id], false);
        if (ev.y[id] > 0) breaker.record(t, false, ev.y[id], false);
        if (ev.d[id] > 0) breaker.record(t, ev.d[id] === 1, 1, true);
        const permit = breaker.phase !== PHASE.closed && breaker.acquire(t) ? 1 : 0;
        const reply = this.#at(t + wait + d.oneWayRegions(r, r), EV.rootReply, u, r, k);
        ev.d[reply] = breaker.version * 4 + breaker.phase;
        ev.x[reply] = breaker.openUntil;
        ev.y[reply] = permit;
        return;
      }
      case EV.rootReply: {
        const leaf = this.leafCounts[a][b][c];
        const version = ev.d[id] >> 2;
        if (version >= leaf.version) Object.assign(leaf, { version, phase: ev.d[id] & 3, openUntil: ev.x[id] });
        leaf.permits += ev.y[id];
        return;
      }
      case EV.metricsTick:
        return this.#metricsTick(a, c, t);
      case EV.metricsLeaf:
      case EV.metricsRoot: {
        const leaf = ev.type[id] === EV.metricsLeaf;
        this.#at(t + METRICS_MS, ev.type[id], a, b, c);
        const target = leaf ? this.metricsRoot[b] : this.metrics;
        const toRegion = leaf ? b : d.world.globalHome;
        if (!d.reachable(b, toRegion, t)) return;
        const ev2 = this.#at(t + d.oneWayRegions(b, toRegion), EV.metricsGlobal, target, 0, 0);
        ev.d[ev2] = leaf ? 1 : 0;
        return;
      }
      case EV.metricsGlobal:
        d.objects.arrive(a, t, 1, SERVICE_MS.merge);
        return;
    }
  }

  #metricsTick(slot, generation, t) {
    const d = this.d;
    if (d.isolates.generation[slot] !== generation) return;
    this.metricTimer[slot] = 0;
    if (this.metricEvents[slot] === 0) return;
    this.metricEvents[slot] = 0;
    const r = d.isolates.regionOfSlot[slot];
    const arrive = t + d.oneWay(d.isolates.coloOf[slot], r);
    const ev = this.#at(arrive, EV.metricsGlobal, this.metricsLeaf[r][this.#leafOf(slot)], 0, 0);
    d.events.d[ev] = 1;
  }

  /** The leaf's reply carries the root's latest state it knows. */
  #learn(slot, upstream, leaf, at, generation) {
    const d = this.d;
    const ev = this.#at(at + d.oneWay(d.isolates.coloOf[slot], d.isolates.regionOfSlot[slot]), EV.learn, slot, upstream, generation);
    d.events.d[ev] = leaf.version * 4 + leaf.phase;
    d.events.x[ev] = leaf.openUntil;
  }

  isolateReplaced(slot) {
    const base = slot * UPSTREAMS.length;
    for (let u = 0; u < UPSTREAMS.length; u++) {
      this.pendingOk[base + u] = this.pendingFailed[base + u] = 0;
      this.scheduled[base + u] = this.acquiring[base + u] = 0;
      this.lastReport[base + u] = -1e9;
    }
    this.lostMetricEvents += this.metricEvents[slot];
    this.metricEvents[slot] = 0;
    this.metricTimer[slot] = 0;
  }
}
