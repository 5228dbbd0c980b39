// Decides whether a difference between a tenant's Durable Object balance and its ledger balance is
// drift or only events still on their way through the billing queue (pure, so it is unit-tested).
//
// What is compared: the TenantGuard's `balanceMicros` (credits applied minus settled charges; open
// holds are NOT subtracted, they are reservations) against the ledger's balance of record,
// SUM(amount_micros) over billing_transaction (credit rows minus debit rows). Both move only on
// settled or credited amounts, so with no event in flight they are equal to the micro-unit.
//
// The DO changes first (settle, credit) and the ledger follows after the queue delay, so a single
// look at a busy tenant nearly always differs. The job therefore looks twice, `graceMs` apart, and
// reads the ledger before the guard each time:
//   - equal at either look: in agreement;
//   - the guard's balance did not move between the looks ("quiet"): every event settled before the
//     first look has had the grace period to land, and none came after, so any difference left is
//     drift, reported whatever its size (the exact comparison);
//   - the guard moved ("active"): events keep arriving, so the difference is reported only when it
//     has the same sign at both looks and is at least `thresholdMicros` both times.
// Drift is also what a message stuck in retries or the dead-letter queue looks like: it is reported
// until the message is replayed, which is the point.

export interface Look {
  guardMicros: bigint;
  ledgerMicros: bigint;
}

export type Verdict = { kind: "agree" } | { kind: "in_flight" } | { kind: "drift"; basis: "quiet" | "active"; driftMicros: bigint };

const abs = (n: bigint) => (n < 0n ? -n : n);
const sign = (n: bigint) => (n > 0n ? 1 : n < 0n ? -1 : 0);

/** The first look alone: agreement ends the check, anything else needs the second look. */
export function agrees(look: Look): boolean {
  return look.guardMicros === look.ledgerMicros;
}

export function judge(first: Look, second: Look, thresholdMicros: bigint): Verdict {
  const d1 = first.guardMicros - first.ledgerMicros;
  const d2 = second.guardMicros - second.ledgerMicros;
  if (d1 === 0n || d2 === 0n) return { kind: "agree" };
  if (first.guardMicros === second.guardMicros) return { kind: "drift", basis: "quiet", driftMicros: d2 };
  if (sign(d1) === sign(d2) && abs(d1) >= thresholdMicros && abs(d2) >= thresholdMicros) return { kind: "drift", basis: "active", driftMicros: d2 };
  return { kind: "in_flight" };
}
