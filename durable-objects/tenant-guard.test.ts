// TenantGuard over real RPC stubs: exact RPM/TPM sliding windows, balance holds and idempotency.
import { describe, expect, it } from "vitest";
import type { AdmissionResult } from "../src/guard/types";
import { T0, admission, admittedCount, failureKinds, guardFor, inGuard } from "../test/fixtures/tenant-guard";

const concurrently = <T>(n: number, make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => make(i)));

describe("requests per minute", () => {
  it("admits exactly N of 50 concurrent requests, and at most N of 500", async () => {
    const guard = guardFor();
    const limits = { tenant: { requests_per_minute: 30 } };
    const first = await concurrently(50, () => guard.admit(admission({ limits })));
    expect(admittedCount(first)).toBe(30);
    expect(failureKinds(first)).toEqual({ rate_limit_exceeded: 20 });
    const rejected = first.find((r) => !r.ok)!;
    expect(rejected.ok || rejected.failure.retryAfterSeconds).toBe(60);

    const tenTimes = await concurrently(500, () => guard.admit(admission({ limits, now: T0 + 60_000 })));
    expect(admittedCount(tenTimes)).toBe(30);
  });

  it("slides: a slot frees exactly 60 s after the request that used it", async () => {
    const guard = guardFor();
    const limits = { key: { requests_per_minute: 30 } };
    await concurrently(10, () => guard.admit(admission({ limits, now: T0 })));
    await concurrently(20, () => guard.admit(admission({ limits, now: T0 + 30_000 })));

    const early = await guard.admit(admission({ limits, now: T0 + 59_999 }));
    expect(early.ok).toBe(false);
    expect(!early.ok && early.failure.headers?.["retry-after-ms"]).toBe("1");

    const atMinute = await concurrently(50, () => guard.admit(admission({ limits, now: T0 + 60_000 })));
    expect(admittedCount(atMinute)).toBe(10);
    const before = await guard.admit(admission({ limits, now: T0 + 89_999 }));
    expect(before.ok).toBe(false);
    const later = await concurrently(50, () => guard.admit(admission({ limits, now: T0 + 90_000 })));
    expect(admittedCount(later)).toBe(20);
  });

  it("limits each level separately: the key, the IP and the tenant", async () => {
    const guard = guardFor();
    const limits = { tenant: { requests_per_minute: 8 }, key: { requests_per_minute: 3 }, ip: { requests_per_minute: 5 } };
    const keyA = await concurrently(10, () => guard.admit(admission({ limits, keyId: "a", clientIp: "198.51.100.1" })));
    expect(admittedCount(keyA)).toBe(3);
    // Key b from the same IP: its own key budget of 3, but the IP has only 2 left.
    const keyB = await concurrently(10, () => guard.admit(admission({ limits, keyId: "b", clientIp: "198.51.100.1" })));
    expect(admittedCount(keyB)).toBe(2);
    // Keys c and d from other IPs: the tenant has 3 left.
    const rest = await concurrently(10, (i) => guard.admit(admission({ limits, keyId: i % 2 ? "c" : "d", clientIp: `198.51.100.${10 + i}` })));
    expect(admittedCount(rest)).toBe(3);
    // The internal channel has its own windows.
    const internal = await guard.admit(admission({ limits, keyId: "a", channel: "internal" }));
    expect(internal.ok).toBe(true);
  });

  it("reports the most restrictive level in the snapshot", async () => {
    const guard = guardFor();
    const limits = { tenant: { requests_per_minute: 100, tokens_per_minute: 10_000 }, key: { requests_per_minute: 3, tokens_per_minute: 50_000 } };
    const r = await guard.admit(admission({ limits, estimate: { tokens: 400, costMicros: 0 } }));
    expect(r.rateLimit).toEqual({
      limitRequests: 3, remainingRequests: 2, resetRequestsMs: 60_000,
      limitTokens: 10_000, remainingTokens: 9_600, resetTokensMs: 60_000,
    });
    const later = await guard.admit(admission({ limits, estimate: { tokens: 100, costMicros: 0 }, now: T0 + 15_000 }));
    expect(later.rateLimit).toMatchObject({ remainingRequests: 1, resetRequestsMs: 45_000, remainingTokens: 9_500 });
  });
});

describe("tokens per minute", () => {
  it("counts the estimate at admission and the real tokens after settlement", async () => {
    const guard = guardFor();
    const limits = { tenant: { tokens_per_minute: 1_000 } };
    const estimate = { tokens: 300, costMicros: 0 };
    const burst = await concurrently(10, () => guard.admit(admission({ limits, estimate })));
    expect(admittedCount(burst)).toBe(3);
    expect(failureKinds(burst)).toEqual({ tokens_rate_limit_exceeded: 7 });

    const firstHold = burst.find((r): r is Extract<AdmissionResult, { ok: true }> => r.ok)!.holdId;
    await guard.settle({ holdId: firstHold, tokens: 100, costMicros: 0, inputTokens: 60, outputTokens: 40, now: T0 + 1_000 });
    // 100 + 300 + 300 counted: exactly one more 300 fits, then nothing.
    const after = await concurrently(5, () => guard.admit(admission({ limits, estimate, now: T0 + 1_000 })));
    expect(admittedCount(after)).toBe(1);
    expect(after.find((r) => r.ok)!.rateLimit.remainingTokens).toBe(0);
  });

  it("gives a released estimate back to the window", async () => {
    const guard = guardFor();
    const limits = { key: { tokens_per_minute: 900 } };
    const estimate = { tokens: 300, costMicros: 0 };
    const held = await concurrently(3, () => guard.admit(admission({ limits, estimate })));
    expect((await guard.admit(admission({ limits, estimate }))).ok).toBe(false);
    await guard.release((held[0] as Extract<AdmissionResult, { ok: true }>).holdId);
    expect((await guard.admit(admission({ limits, estimate }))).ok).toBe(true);
  });

  it("rejects an estimate larger than the whole limit with an explicit message", async () => {
    const guard = guardFor();
    const r = await guard.admit(admission({ limits: { tenant: { tokens_per_minute: 100 } }, estimate: { tokens: 101, costMicros: 0 } }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.failure.kind).toBe("tokens_rate_limit_exceeded");
    expect(!r.ok && r.failure.message).toMatch(/estimated 101 tokens exceed/);
  });
});

describe("prepaid balance", () => {
  it("1,000 concurrent 1-unit requests against 100: exactly 100 admitted, balance 0, never negative", async () => {
    const guard = guardFor();
    await guard.credit(100, "topup-1");
    const results = await concurrently(1_000, () => guard.admit(admission({ estimate: { tokens: 1, costMicros: 1 }, chargeBalance: true })));
    expect(admittedCount(results)).toBe(100);
    expect(failureKinds(results)).toEqual({ insufficient_balance: 900 });
    for (const r of results) if (r.ok) expect(r.availableMicros).toBeGreaterThanOrEqual(0);
    expect(await guard.snapshot()).toMatchObject({ balanceMicros: 100, openHolds: 100, holdMicros: 100 });

    const settled = await Promise.all(
      results.filter((r) => r.ok).map((r) => guard.settle({ holdId: r.holdId, tokens: 1, costMicros: 1, inputTokens: 1, outputTokens: 0 })),
    );
    expect(Math.min(...settled.map((s) => s.balanceMicros))).toBe(0);
    expect(await guard.snapshot()).toMatchObject({ balanceMicros: 0, openHolds: 0, holdMicros: 0 });
    const more = await guard.admit(admission({ estimate: { tokens: 1, costMicros: 1 }, chargeBalance: true }));
    expect(!more.ok && more.failure.kind).toBe("insufficient_balance");
  });

  it("charges the real cost, never taking the balance below zero: above the reservation only from the free balance", async () => {
    const guard = guardFor();
    await guard.credit(10, "topup");
    const r = await guard.admit(admission({ estimate: { tokens: 10, costMicros: 10 }, chargeBalance: true }));
    expect(r).toMatchObject({ ok: true, balanceMicros: 10, availableMicros: 0 });
    const s = await guard.settle({ holdId: r.ok ? r.holdId : "", tokens: 15, costMicros: 15, inputTokens: 5, outputTokens: 10 });
    expect(s).toEqual({ balanceMicros: 0, alreadySettled: false, chargedMicros: 10, uncollectedMicros: 5 });

    // With free balance beside the hold, the excess is charged from it, and no other hold's reservation is touched.
    await guard.credit(100, "topup-2");
    const a = await guard.admit(admission({ estimate: { tokens: 10, costMicros: 30 }, chargeBalance: true }));
    const b = await guard.admit(admission({ estimate: { tokens: 10, costMicros: 50 }, chargeBalance: true }));
    const over = await guard.settle({ holdId: a.ok ? a.holdId : "", tokens: 10, costMicros: 200, inputTokens: 5, outputTokens: 5 });
    // free = 100 - (30 + 50) = 20: charged 30 + 20, 150 uncollected; b's 50 stay covered.
    expect(over).toEqual({ balanceMicros: 50, alreadySettled: false, chargedMicros: 50, uncollectedMicros: 150 });
    expect(await guard.settle({ holdId: b.ok ? b.holdId : "", tokens: 10, costMicros: 50, inputTokens: 5, outputTokens: 5 })).toEqual({ balanceMicros: 0, alreadySettled: false, chargedMicros: 50 });
    expect((await guard.snapshot()).balanceMicros).toBe(0);
  });

  it("leaves the balance alone for requests that do not charge it (internal channel)", async () => {
    const guard = guardFor();
    const r = await guard.admit(admission({ channel: "internal", estimate: { tokens: 10, costMicros: 500 } }));
    expect(r).toEqual({ ok: true, holdId: expect.any(String), rateLimit: {} });
    const s = await guard.settle({ holdId: r.ok ? r.holdId : "", tokens: 10, costMicros: 500, inputTokens: 5, outputTokens: 5 });
    expect(s.balanceMicros).toBe(0);
  });

  it("a rejection leaves no trace: no rate-limit slot, no quota, no hold", async () => {
    const guard = guardFor();
    const limits = { tenant: { requests_per_minute: 2 } };
    const quotas = [{ id: "q", scope: "tenant" as const, type: "requests" as const, period: "daily" as const, limit: 2 }];
    const broke = await concurrently(20, () => guard.admit(admission({ limits, quotas, estimate: { tokens: 1, costMicros: 1 }, chargeBalance: true })));
    expect(failureKinds(broke)).toEqual({ insufficient_balance: 20 });
    expect(await guard.snapshot({ now: T0 })).toMatchObject({ openHolds: 0, holdMicros: 0, quotas: [] });
    await guard.credit(5, "topup");
    const paid = await concurrently(5, () => guard.admit(admission({ limits, quotas, estimate: { tokens: 1, costMicros: 1 }, chargeBalance: true })));
    expect(admittedCount(paid)).toBe(2);
  });
});

describe("idempotency", () => {
  it("admit: the same requestId, even 20 times at once, takes one hold and returns one decision", async () => {
    const guard = guardFor();
    await guard.credit(1_000, "topup");
    const same = admission({ limits: { tenant: { requests_per_minute: 5 } }, estimate: { tokens: 5, costMicros: 7 }, chargeBalance: true });
    const results = await concurrently(20, () => guard.admit(same));
    expect(new Set(results.map((r) => (r.ok ? r.holdId : "rejected")))).toEqual(new Set([same.requestId]));
    expect(results.filter((r) => r.ok && r.replayed)).toHaveLength(19);
    expect(await guard.snapshot()).toMatchObject({ openHolds: 1, holdMicros: 7 });
    // The window counted it once: 4 more fit.
    const others = await concurrently(10, () => guard.admit(admission({ limits: { tenant: { requests_per_minute: 5 } } })));
    expect(admittedCount(others)).toBe(4);
  });

  it("admit: a request id reused once its hold closed, or by a different request, is a conflict, not a free pass", async () => {
    const guard = guardFor();
    await guard.credit(1_000, "topup");
    const first = admission({ estimate: { tokens: 5, costMicros: 10 }, chargeBalance: true });
    expect((await guard.admit(first)).ok).toBe(true);
    const different = await guard.admit({ ...first, keyId: "key-2" });
    expect(!different.ok && different.failure.kind).toBe("idempotency_key_conflict");
    await guard.settle({ holdId: first.requestId, tokens: 5, costMicros: 10, inputTokens: 5, outputTokens: 0 });
    const reused = await guard.admit(first);
    expect(!reused.ok && reused.failure.kind).toBe("idempotency_key_conflict");
    expect(await guard.snapshot()).toMatchObject({ balanceMicros: 990, openHolds: 0 });
  });

  it("admit: a retried rejection gets the same answer although the state changed", async () => {
    const guard = guardFor();
    const req = admission({ estimate: { tokens: 1, costMicros: 50 }, chargeBalance: true });
    const first = await guard.admit(req);
    expect(!first.ok && first.failure.kind).toBe("insufficient_balance");
    await guard.credit(100, "topup");
    expect(await guard.admit(req)).toEqual(first);
    expect((await guard.admit({ ...req, requestId: "another" })).ok).toBe(true);
  });

  it("settle, release and credit apply once", async () => {
    const guard = guardFor();
    const credits = await concurrently(50, () => guard.credit(1_000, "topup-42"));
    expect(credits.filter((c) => c.applied)).toHaveLength(1);
    expect((await guard.snapshot()).balanceMicros).toBe(1_000);

    const a = await guard.admit(admission({ estimate: { tokens: 10, costMicros: 100 }, chargeBalance: true }));
    const settlement = { holdId: a.ok ? a.holdId : "", tokens: 8, costMicros: 80, inputTokens: 4, outputTokens: 4 };
    const settles = await concurrently(10, () => guard.settle(settlement));
    expect(settles.filter((s) => !s.alreadySettled)).toHaveLength(1);
    expect(settles.every((s) => s.balanceMicros === 920 && s.chargedMicros === 80)).toBe(true);
    expect(await guard.release(settlement.holdId)).toEqual({ released: false, balanceMicros: 920 });

    const b = await guard.admit(admission({ estimate: { tokens: 10, costMicros: 100 }, chargeBalance: true }));
    const releases = await concurrently(10, () => guard.release(b.ok ? b.holdId : ""));
    expect(releases.filter((r) => r.released)).toHaveLength(1);
    expect(await guard.snapshot()).toMatchObject({ balanceMicros: 920, openHolds: 0, holdMicros: 0 });
    expect(await guard.settle({ ...settlement, holdId: "never-issued" })).toEqual({ balanceMicros: 920, alreadySettled: false, unknownHold: true, chargedMicros: 0 });
  });

  it("rejects malformed calls loudly instead of guessing", async () => {
    // Called on the instance: a rejecting RPC leaks an unhandled rejection in the vitest pool (workers-sdk#14736).
    await inGuard(guardFor(), async (guard) => {
      await expect(guard.admit(admission({ estimate: { tokens: 1.5, costMicros: 0 } }))).rejects.toThrow(/estimate.tokens/);
      await expect(guard.credit(-5, "k")).rejects.toThrow(/amountMicros/);
      await expect(guard.settle({ holdId: "h", tokens: 1, costMicros: Number.NaN, inputTokens: 0, outputTokens: 0 })).rejects.toThrow(/costMicros/);
      expect(await guard.snapshot()).toMatchObject({ balanceMicros: 0, openHolds: 0 });
    });
  });
});
