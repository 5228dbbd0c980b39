// The measured figures the object model is calibrated on, recorded from `node sim/calibrate.mjs`
// (the real Durable Objects of this repository on workerd; see sim/README.md for the run and machine).
// Times are per call, sequential (c = 1), in ms; throughput is admit()+settle() pairs per second.
export const MEASURED = {
  command: "node sim/calibrate.mjs --n 2000 --rounds 3",
  date: "2026-12-02",
  /** GatewayMetrics.ping(): an RPC round trip that does nothing (both halves run on workerd's one thread here). */
  pingMs: 0.0355,
  admitMs: 0.2625,
  settleMs: 0.167,
  takeMs: 0.133,
  recordMs: 0.124,
  mergeMs: 0.77,
  /** Closed loop on one TenantGuard: c callers each running admit() then settle(), pairs per second. */
  closedLoop: { c1PairsPerSecond: 2478, c8PairsPerSecond: 2898 },
};

/**
 * Service time of each call inside its object: the measured call minus the caller's half of an RPC
 * round trip (ping / 2); the callee's half (deserializing, dispatch) stays with the object.
 */
const own = (ms) => ms - MEASURED.pingMs / 2;
export const SERVICE_MS = {
  admit: own(MEASURED.admitMs),
  settle: own(MEASURED.settleMs),
  /** release() does what settle() does with no charge. */
  release: own(MEASURED.settleMs),
  take: own(MEASURED.takeMs),
  refund: own(MEASURED.takeMs),
  record: own(MEASURED.recordMs),
  /** state() / acquireProbe(): a read of the breaker, no write: assumed half of record(). */
  state: own(MEASURED.recordMs) / 2,
  merge: own(MEASURED.mergeMs),
  /** Lease calls (grant, return, recall) write one row per budget, as settle() does. */
  lease: own(MEASURED.settleMs),
};

/**
 * The documented soft limit of one Durable Object (~1,000 requests per second); past it callers get
 * "Durable Object is overloaded" errors. Modelled as a token bucket of 1,000 calls/s holding one second's
 * worth (a rate per second is what the documentation states, not a shorter burst).
 */
export const OBJECT_CEILING_RPS = 1000;
export const OBJECT_BURST = 1000;
