// The reconciliation verdicts: agreement, events in flight, and drift on quiet and on busy tenants.
import { describe, expect, it } from "vitest";
import { agrees, judge } from "./drift";

const look = (guard: bigint, ledger: bigint) => ({ guardMicros: guard, ledgerMicros: ledger });
const T = 1_000_000n;

describe("judge", () => {
  it("agrees when the balances match at either look", () => {
    expect(agrees(look(5n, 5n))).toBe(true);
    expect(judge(look(100n, 90n), look(100n, 100n), T)).toEqual({ kind: "agree" });
  });

  it("a quiet tenant (guard unchanged) with any difference left after the grace period has drifted", () => {
    expect(judge(look(5_000_000n, 0n), look(5_000_000n, 0n), T)).toEqual({ kind: "drift", basis: "quiet", driftMicros: 5_000_000n });
    // one micro-unit is enough when nothing else moved
    expect(judge(look(-7n, -6n), look(-7n, -6n), T)).toEqual({ kind: "drift", basis: "quiet", driftMicros: -1n });
  });

  it("a busy tenant's small or changing-sign difference is in flight", () => {
    expect(judge(look(1_000n, 1_200n), look(800n, 1_000n), T)).toEqual({ kind: "in_flight" });
    expect(judge(look(10_000_000n, 8_000_000n), look(7_000_000n, 9_000_000n), T)).toEqual({ kind: "in_flight" });
    expect(judge(look(10_000_000n, 8_000_000n), look(9_900_000n, 9_000_000n), T)).toEqual({ kind: "in_flight" });
  });

  it("a busy tenant whose difference stays past the threshold with one sign has drifted", () => {
    expect(judge(look(10_000_000n, 8_000_000n), look(9_500_000n, 7_500_000n), T)).toEqual({ kind: "drift", basis: "active", driftMicros: 2_000_000n });
    expect(judge(look(1n, 3_000_001n), look(2n, 1_500_002n), T)).toEqual({ kind: "drift", basis: "active", driftMicros: -1_500_000n });
  });
});
