// The login throttle's rules on their own: a fixed window per subject, a lockout at the limit that starts
// a fresh window, and sources bucketed as the per-IP limits bucket addresses.
import { describe, expect, it } from "vitest";
import { countFailure, lockedFor, loginSource, NO_FAILURES, type FailureCounter, type ThrottleLimit } from "./login-throttle";

const LIMIT: ThrottleLimit = { maxFailures: 3, windowMs: 1_000, lockoutMs: 5_000 };

function fail(times: number, start: FailureCounter, at: (i: number) => number): { counter: FailureCounter; locks: number[] } {
  let counter = start;
  const locks: number[] = [];
  for (let i = 0; i < times; i++) {
    const step = countFailure(counter, LIMIT, at(i));
    if (step.locked) locks.push(i);
    counter = step.next;
  }
  return { counter, locks };
}

describe("login throttle", () => {
  it("locks at the limit within a window, for the lockout, then counts afresh", () => {
    const { counter, locks } = fail(3, NO_FAILURES, (i) => 10_000 + i);
    expect(locks).toEqual([2]);
    expect(lockedFor(counter, 10_002)).toBe(5_000);
    expect(lockedFor(counter, 15_002)).toBe(0);
    const after = fail(2, counter, (i) => 15_002 + i);
    expect(after.locks).toEqual([]);
    expect(fail(1, after.counter, () => 15_010).locks).toEqual([0]);
  });

  it("failures spread wider than the window never lock", () => {
    expect(fail(10, NO_FAILURES, (i) => i * 600).locks).toEqual([]);
  });

  it("failures counted during a lockout (the global ceiling) lock again as soon as it ends", () => {
    const locked = fail(3, NO_FAILURES, (i) => i).counter;
    const during = fail(5, locked, (i) => 100 + i);
    expect(during.locks).toEqual([]);
    expect(fail(1, during.counter, () => locked.lockedUntil).locks).toEqual([0]);
  });

  it("sources: spellings of one address and one IPv6 /64 are one source", () => {
    expect(loginSource("::ffff:203.0.113.9")).toBe(loginSource("203.0.113.9"));
    expect(loginSource("2001:db8:1:2::1")).toBe(loginSource("2001:0DB8:0001:0002:ffff::9"));
    expect(loginSource("2001:db8:1:3::1")).not.toBe(loginSource("2001:db8:1:2::1"));
    expect(loginSource(null)).toBe("unknown");
    expect(loginSource("not an ip")).toBe(loginSource("also not"));
  });
});
