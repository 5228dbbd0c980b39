// The measured figures the object model is calibrated on, recorded from `node sim/calibrate.mjs` (the
// real Durable Objects of this repository on workerd, 2 shared AMD EPYC cores; see sim/README.md).
// Times are per call, sequential (c = 1), in ms; throughput is admit()+settle() pairs per second.
// The machine is shared with other agents, so a call measures its CPU cost plus whatever else ran: the
// model takes the least disturbed round (the highest closed-loop throughput) as the calls' cost. The
// same calls measured 3-5x slower under a load of ~12 on 2 cores (LOADED below): still far below 1 ms,
// so the platform's ceiling, not the object's CPU, bounds an object either way.
export const MEASURED = {
  command: "node sim/calibrate.mjs --n 2000 --rounds 3 (round 2 of 3; the least disturbed)",
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

/** `node sim/calibrate.mjs --n 2000 --rounds 5` at a load average of ~12 on the same 2 cores: medians. */
export const LOADED = {
  pingMs: 0.21,
  admitMs: 1.113,
  settleMs: 0.3595,
  takeMs: 0.493,
  recordMs: 0.4625,
  mergeMs: 1.7,
  closedLoop: { c1PairsPerSecond: 923, c8PairsPerSecond: 990 },
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
