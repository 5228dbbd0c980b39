// What both designs share: the world, the event list, the objects, the oracle, the isolates' routing by
// their cached breaker state, and the recording of admission latency, outcomes, queue messages and ledger
// rows. Each design (today.mjs, proposed.mjs) adds how admission, settlement, metrics and breakers flow.
import { Histogram } from "../lib/histogram.mjs";
import { Rng } from "../lib/rng.mjs";
import { EventQueue } from "../model/events.mjs";
import { ObjectTable } from "../model/objects.mjs";
import { Oracle } from "../model/oracle.mjs";
import { LedgerMeter } from "../model/queues.mjs";
import { REGIONS, RTT_MS, UPSTREAMS, reachable, rttMs, regionRttMs } from "../model/world.mjs";
import { PHASE } from "../model/breaker.mjs";

/** A caller is "far from the tenant's home" when their regions are this many ms apart or more. */
export const FAR_RTT_MS = 150;
export const ADMIT_TIMEOUT_MS = 2000;
/** An upstream in the storm answers with an error after this long. */
export const FAILURE_LATENCY_MS = 300;
/** Metric increments per request (counts, latency, tenant minute, cost, upstream). */
export const METRIC_EVENTS_PER_REQUEST = 5;

export const OUTCOMES = ["admitted", "limited", "unavailable", "failOpen", "circuitOpen", "upstreamFailed", "regionMismatchRetried"];

export class DesignBase {
  constructor(world, isolates, name, oracleGlobalMode) {
    this.world = world;
    this.name = name;
    this.isolates = isolates;
    this.rng = new Rng(world.config.seed, `design/${name}`);
    this.events = new EventQueue();
    this.objects = new ObjectTable();
    this.oracle = new Oracle(world, oracleGlobalMode);
    this.ledger = new LedgerMeter();
    this.warmupMs = world.config.warmupSeconds * 1000;
    // Admission latency in steady traffic (from the warm-up to the region cut-off) and from then on (the
    // cut-off, its aftermath and the traffic shift), apart.
    this.latency = REGIONS.map(() => new Histogram());
    this.farLatency = new Histogram();
    this.allLatency = new Histogram();
    this.incidentLatency = REGIONS.map(() => new Histogram());
    const cut = world.config.cutoff;
    this.cutFromMs = cut ? cut.from * 1000 : Infinity;
    this.cutToMs = cut ? cut.to * 1000 : Infinity;
    this.outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
    this.perSecond = [];
    this.#second = this.#emptySecond();
    const slots = isolates.count * UPSTREAMS.length;
    // Each isolate's cached view of each upstream's breaker (src/upstream/breaker.ts).
    this.viewPhase = new Uint8Array(slots);
    this.viewOpenUntil = new Float64Array(slots);
    this.viewVersion = new Int32Array(slots);
    this.viewFetchedAt = new Float64Array(slots).fill(-1e9);
    this.stormCalls = 0;
    /** The exact time (ms) of the arrival or event being handled; set by the engine. */
    this.now = 0;
  }

  #second;

  #emptySecond() {
    return { admitted: 0, limited: 0, unavailable: 0, failOpen: 0, upstreamFailed: 0, overAdmitted: 0 };
  }


  /** One-way delay from a colo to an object in region r: half a jittered round trip. */
  oneWay(coloId, r) {
    return (rttMs(this.world, coloId, r) * (1 + this.rng.exp(0.05))) / 2;
  }

  /** One-way delay between two objects' regions. */
  oneWayRegions(a, b) {
    return (regionRttMs(a, b) * (1 + this.rng.exp(0.05))) / 2;
  }

  reachable(a, b, t = this.now) {
    return reachable(this.world, a, b, t);
  }

  regionOfColo(coloId) {
    return this.world.colos[coloId].region;
  }

  /** Records an admission decision's latency (after the warm-up) for the caller's region; apart once incidents begin. */
  recordLatency(req, ms) {
    if (req.t < this.warmupMs) return;
    if (req.t >= this.cutFromMs) return this.incidentLatency[req.region].add(ms, req.w);
    this.latency[req.region].add(ms, req.w);
    this.allLatency.add(ms, req.w);
    const home = this.world.tenants[req.tenant].home;
    if (req.region !== home && RTT_MS[req.region][home] >= FAR_RTT_MS) this.farLatency.add(ms, req.w);
  }

  outcome(kind, w) {
    this.outcomes[kind] += w;
    if (kind in this.#second) this.#second[kind] += w;
  }

  /** The oracle's verdict on an admission (tenant bits from admitTenant, the global bucket's), counted per second too. */
  verdict(req, bits, globalOver) {
    const over = this.oracle.verdict(req.w, bits, globalOver);
    if (over) this.#second.overAdmitted += req.w;
    return over;
  }

  /**
   * Routing by the isolate's cached breaker views: the primary upstream unless its breaker is known to be
   * open, then the next one; -1 when both are open (circuit_open). A view past its open period asks.
   */
  route(req) {
    const u = req.upstream;
    const base = req.slot * UPSTREAMS.length;
    for (const candidate of [u, (u + 1) % UPSTREAMS.length]) {
      const i = base + candidate;
      const phase = this.viewPhase[i];
      if (phase === PHASE.closed) return candidate;
      if (phase === PHASE.open && this.viewOpenUntil[i] > req.t) continue;
      // Half-open, or open with its period over: one probe may be asked for; others go elsewhere.
      if (this.askProbe(req, candidate)) return candidate;
    }
    return -1;
  }

  /** Updates an isolate's view from an object's reply (newer versions only). */
  learn(slot, upstream, phase, openUntil, version, generation) {
    if (this.isolates.generation[slot] !== generation) return;
    const i = slot * UPSTREAMS.length + upstream;
    if (version < this.viewVersion[i]) return;
    this.viewPhase[i] = phase;
    this.viewOpenUntil[i] = openUntil;
    this.viewVersion[i] = version;
    this.viewFetchedAt[i] = this.now;
  }

  /** An isolate ended: a fresh one starts with no cached views. */
  isolateReplaced(slot) {
    const base = slot * UPSTREAMS.length;
    for (let u = 0; u < UPSTREAMS.length; u++) {
      this.viewPhase[base + u] = PHASE.closed;
      this.viewVersion[base + u] = 0;
      this.viewFetchedAt[base + u] = -1e9;
    }
  }

  endSecond(second) {
    this.objects.endSecond(second);
    this.ledger.endSecond(second);
    const under = this.oracle.underAdmitted - this.#underBefore;
    this.#underBefore = this.oracle.underAdmitted;
    this.perSecond.push({ second, ...this.#second, underAdmitted: under, ...this.sampleSecond(second) });
    this.#second = this.#emptySecond();
  }

  #underBefore = 0;

  /** Design-specific figures sampled at the end of each second. */
  sampleSecond() {
    return {};
  }

  askProbe() {
    return false;
  }
}
