// The circuit breaker of one upstream as UpstreamHealth runs it (durable-objects/upstream-health.ts with
// DEFAULT_BREAKER_CONFIG): one-second buckets over a 60-s window; >= 50% failures over >= 10 calls opens
// it for 30 s; then half-open, where 3 probes decide (a success closes, a failure reopens).
const CONFIG = { threshold: 0.5, minimumCalls: 10, windowS: 60, openMs: 30_000, probes: 3 };
export const PHASE = { closed: 0, open: 1, halfOpen: 2 };

export class Breaker {
  phase = PHASE.closed;
  openUntil = 0;
  cycle = 0;
  probesGranted = 0;
  version = 0;
  openedAt = [];
  #ok = new Float64Array(CONFIG.windowS);
  #failed = new Float64Array(CONFIG.windowS);
  #second = new Int32Array(CONFIG.windowS).fill(-1);

  #advance(t) {
    if (this.phase === PHASE.open && t >= this.openUntil) this.#move(PHASE.halfOpen, t);
  }

  record(t, ok, count, probe) {
    this.#advance(t);
    if (this.phase === PHASE.closed) {
      const s = Math.floor(t / 1000);
      const i = s % CONFIG.windowS;
      if (this.#second[i] !== s) {
        this.#second[i] = s;
        this.#ok[i] = this.#failed[i] = 0;
      }
      if (ok) this.#ok[i] += count;
      else this.#failed[i] += count;
      let calls = 0;
      let failures = 0;
      for (let j = 0; j < CONFIG.windowS; j++) {
        if (this.#second[j] <= s - CONFIG.windowS) continue;
        calls += this.#ok[j] + this.#failed[j];
        failures += this.#failed[j];
      }
      if (calls >= CONFIG.minimumCalls && failures / calls >= CONFIG.threshold) this.#move(PHASE.open, t);
    } else if (this.phase === PHASE.halfOpen && probe) {
      this.#move(ok ? PHASE.closed : PHASE.open, t);
    }
  }

  /** A probe permit (half-open), or plain permission (closed). */
  acquire(t) {
    this.#advance(t);
    if (this.phase === PHASE.closed) return true;
    if (this.phase === PHASE.halfOpen && this.probesGranted < CONFIG.probes) {
      this.probesGranted++;
      return true;
    }
    return false;
  }

  state(t) {
    this.#advance(t);
    return this.phase;
  }

  #move(to, t) {
    if (to === PHASE.open) {
      this.openUntil = t + CONFIG.openMs;
      this.openedAt.push(t);
    }
    if (to === PHASE.halfOpen) this.cycle++;
    if (to !== PHASE.halfOpen) this.#second.fill(-1);
    this.phase = to;
    this.probesGranted = 0;
    this.version++;
  }
}
