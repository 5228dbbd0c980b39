// Durable Objects as queues: each object is one FIFO server (single-threaded) whose calls take their
// calibrated service time (sim/model/calibration.mjs), behind the platform's per-object ceiling (calls
// past ~1,000/s are refused as "overloaded"). Waits follow Lindley's recursion on each arrival, in
// arrival order, which the event loop guarantees to the millisecond. Per-second counts per object give
// the busiest object of each kind.
import { OBJECT_BURST, OBJECT_CEILING_RPS } from "./calibration.mjs";

export const KINDS = ["TenantGuard", "GlobalLimiter", "GatewayMetrics", "UpstreamHealth", "RegionalGuard", "FanIn"];
export const KIND = Object.fromEntries(KINDS.map((k, i) => [k, i]));

export class ObjectTable {
  /** `ceilingRps`: the platform's per-object limit (Infinity for a local runtime, which has none). */
  constructor({ ceilingRps = OBJECT_CEILING_RPS, burst = OBJECT_BURST } = {}) {
    this.ceilingPerMs = ceilingRps / 1000;
    this.burst = burst;
  }

  count = 0;
  #cap = 1024;
  kind = new Uint8Array(this.#cap);
  region = new Uint8Array(this.#cap);
  busyUntil = new Float64Array(this.#cap);
  tokens = new Float64Array(this.#cap);
  tokensAt = new Float64Array(this.#cap);
  /** Calls offered this second (accepted or refused). */
  offered = new Float64Array(this.#cap);
  refusedTotal = new Float64Array(this.#cap);
  labels = [];
  #touched = [];
  /** Per second: for each kind, the busiest object's offered calls (and which object). */
  busiestSeries = KINDS.map(() => []);
  totalOffered = new Float64Array(KINDS.length);
  totalRefused = new Float64Array(KINDS.length);

  create(kind, region, label) {
    if (this.count === this.#cap) this.#grow();
    const id = this.count++;
    this.kind[id] = kind;
    this.region[id] = region;
    this.tokens[id] = this.burst;
    this.tokensAt[id] = 0;
    this.labels.push(label);
    return id;
  }

  /**
   * `calls` calls arrive at object `id` at time t (ms), each taking `serviceMs`. Returns the wait before
   * the first starts (ms), or -1 when the object refuses them as overloaded (past its ceiling). The
   * object is then busy for all of them; a caller standing for a batch of requests spread in time
   * charges each the wait and one service time, not the rest of its batch.
   */
  arrive(id, t, calls, serviceMs) {
    if (this.offered[id] === 0) this.#touched.push(id);
    this.offered[id] += calls;
    // Calls within a millisecond come in any order: the bucket's clock only moves forward.
    if (this.ceilingPerMs !== Infinity && t > this.tokensAt[id]) {
      const refill = (t - this.tokensAt[id]) * this.ceilingPerMs;
      this.tokens[id] = Math.min(this.burst, this.tokens[id] + refill);
      this.tokensAt[id] = t;
    }
    if (this.ceilingPerMs !== Infinity && this.tokens[id] < 1) {
      this.refusedTotal[id] += calls;
      this.totalRefused[this.kind[id]] += calls;
      return -1;
    }
    if (this.ceilingPerMs !== Infinity) this.tokens[id] -= calls;
    const start = this.busyUntil[id] > t ? this.busyUntil[id] : t;
    this.busyUntil[id] = start + calls * serviceMs;
    return start - t;
  }

  /** Closes a second: records the busiest object of each kind, resets the per-second counts. */
  endSecond(second) {
    const best = new Float64Array(KINDS.length);
    const bestId = new Int32Array(KINDS.length).fill(-1);
    for (const id of this.#touched) {
      const k = this.kind[id];
      this.totalOffered[k] += this.offered[id];
      if (this.offered[id] > best[k]) {
        best[k] = this.offered[id];
        bestId[k] = id;
      }
      this.offered[id] = 0;
    }
    this.#touched.length = 0;
    for (let k = 0; k < KINDS.length; k++) this.busiestSeries[k].push({ second, rps: best[k], id: bestId[k] });
  }

  #grow() {
    this.#cap *= 2;
    for (const name of ["kind", "region", "busyUntil", "tokens", "tokensAt", "offered", "refusedTotal"]) {
      const next = new this[name].constructor(this.#cap);
      next.set(this[name]);
      this[name] = next;
    }
  }
}
