// TenantGuard quotas: UTC day/month resets on an injected clock, capability split, tenant vs key scope.
import { describe, expect, it } from "vitest";
import type { AdmissionRequest, QuotaRule } from "../src/guard/types";
import { admission, admittedCount, failureKinds, guardFor } from "../test/fixtures/tenant-guard";

const at = (iso: string) => Date.parse(iso);
// Holds left open expire after 10 minutes and give their reservation back, so usage that must last is settled.
async function settled(guard: ReturnType<typeof guardFor>, req: AdmissionRequest): Promise<boolean> {
  const r = await guard.admit(req);
  if (r.ok) await guard.settle({ holdId: r.holdId, tokens: req.estimate.tokens, costMicros: req.estimate.costMicros, inputTokens: req.estimate.tokens, outputTokens: 0 });
  return r.ok;
}
const all = <T>(n: number, make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => make(i)));

describe("periods", () => {
  it("a daily quota resets at 00:00 UTC, and says when", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "daily", scope: "tenant", type: "requests", period: "daily", limit: 3 }];
    const day1 = await all(5, () => guard.admit(admission({ quotas, now: at("2030-01-31T23:59:59.000Z") })));
    expect(admittedCount(day1)).toBe(3);
    const rejected = day1.find((r) => !r.ok)!;
    expect(!rejected.ok && rejected.failure).toMatchObject({ kind: "daily_quota_exceeded", retryAfterSeconds: 1 });
    expect((await guard.admit(admission({ quotas, now: at("2030-01-31T23:59:59.999Z") }))).ok).toBe(false);
    const day2 = await all(5, () => guard.admit(admission({ quotas, now: at("2030-02-01T00:00:00.000Z") })));
    expect(admittedCount(day2)).toBe(3);
    expect((await guard.snapshot({ now: at("2030-02-01T12:00:00Z") })).quotas).toEqual([
      { id: "daily", scope: "tenant", subject: null, type: "requests", period: "daily", used: 3, limit: 3, periodStart: at("2030-02-01T00:00:00Z") },
    ]);
    expect((await guard.snapshot({ now: at("2030-02-02T00:00:00Z") })).quotas[0]).toMatchObject({ used: 0, periodStart: at("2030-02-02T00:00:00Z") });
  });

  it("a monthly quota survives day boundaries and resets on the 1st, UTC", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "monthly", scope: "tenant", type: "tokens", period: "monthly", limit: 1_000 }];
    const estimate = { tokens: 400, costMicros: 0 };
    const jan = await all(3, () => settled(guard, admission({ quotas, estimate, now: at("2030-01-15T10:00:00Z") })));
    expect(jan.filter(Boolean)).toHaveLength(2);
    const endOfMonth = await guard.admit(admission({ quotas, estimate, now: at("2030-01-31T23:59:59.999Z") }));
    expect(!endOfMonth.ok && endOfMonth.failure.kind).toBe("monthly_quota_exceeded");
    expect((await guard.admit(admission({ quotas, estimate, now: at("2030-02-01T00:00:00Z") }))).ok).toBe(true);
  });

  it("a never-resetting quota stays used up", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "trial", scope: "tenant", type: "cost", period: "never", limit: 1_000 }];
    expect(await settled(guard, admission({ quotas, estimate: { tokens: 1, costMicros: 1_000 } }))).toBe(true);
    const later = await guard.admit(admission({ quotas, estimate: { tokens: 1, costMicros: 1 }, now: at("2031-06-01T00:00:00Z") }));
    expect(!later.ok && later.failure).toMatchObject({ kind: "quota_exceeded" });
    expect(!later.ok && later.failure.retryAfterSeconds).toBeUndefined();
  });

  it("a tenant time zone moves the boundary to local midnight", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "daily-sh", scope: "tenant", type: "requests", period: "daily", limit: 1, timeZone: "Asia/Shanghai" }];
    expect(await settled(guard, admission({ quotas, now: at("2030-01-15T15:59:59Z") }))).toBe(true);
    // 16:00 UTC is midnight in Shanghai (UTC+8).
    expect(await settled(guard, admission({ quotas, now: at("2030-01-15T16:00:00Z") }))).toBe(true);
    expect((await guard.admit(admission({ quotas, now: at("2030-01-15T23:00:00Z") }))).ok).toBe(false);
  });

  it("a settlement after the period rolled over leaves the new period alone", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "daily-tokens", scope: "tenant", type: "tokens", period: "daily", limit: 1_000 }];
    const old = await guard.admit(admission({ quotas, estimate: { tokens: 600, costMicros: 0 }, now: at("2030-03-01T23:59:00Z") }));
    await guard.admit(admission({ quotas, estimate: { tokens: 900, costMicros: 0 }, now: at("2030-03-02T00:01:00Z") }));
    await guard.settle({ holdId: old.ok ? old.holdId : "", tokens: 50, costMicros: 0, inputTokens: 25, outputTokens: 25 });
    expect((await guard.snapshot({ now: at("2030-03-02T00:02:00Z") })).quotas[0]).toMatchObject({ used: 900 });
  });
});

describe("scope and capability", () => {
  it("splits per capability; a rule without one counts both", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [
      { id: "chat-daily", scope: "tenant", type: "requests", period: "daily", limit: 2, capability: "chat" },
      { id: "all-daily", scope: "tenant", type: "requests", period: "daily", limit: 5 },
    ];
    const chat = await all(4, () => guard.admit(admission({ quotas, capability: "chat" })));
    expect(admittedCount(chat)).toBe(2);
    const embeddings = await all(5, () => guard.admit(admission({ quotas, capability: "embeddings" })));
    expect(admittedCount(embeddings)).toBe(3);
    const usage = Object.fromEntries((await guard.snapshot()).quotas.map((q) => [q.id, q.used]));
    expect(usage).toEqual({ "chat-daily": 2, "all-daily": 5 });
  });

  it("key scope counts per key; tenant scope counts all keys together", async () => {
    const guard = guardFor();
    const perKey: QuotaRule[] = [{ id: "per-key", scope: "key", type: "requests", period: "daily", limit: 2 }];
    const results = await all(12, (i) => guard.admit(admission({ quotas: perKey, keyId: `k${i % 3}` })));
    expect(admittedCount(results)).toBe(6);
    const snapshot = await guard.snapshot();
    expect(snapshot.quotas.map((q) => [q.subject, q.used]).sort()).toEqual([["k0", 2], ["k1", 2], ["k2", 2]]);

    const tenantWide: QuotaRule[] = [{ id: "tenant", scope: "tenant", type: "requests", period: "daily", limit: 2 }];
    const shared = await all(12, (i) => guard.admit(admission({ quotas: tenantWide, keyId: `k${i % 3}` })));
    expect(admittedCount(shared)).toBe(2);
  });
});

describe("reservations", () => {
  it("1,000 concurrent requests against a quota of 700: exactly 700, counter exact", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "q", scope: "tenant", type: "requests", period: "monthly", limit: 700 }];
    const results = await all(1_000, () => guard.admit(admission({ quotas })));
    expect(admittedCount(results)).toBe(700);
    expect(failureKinds(results)).toEqual({ monthly_quota_exceeded: 300 });
    expect((await guard.snapshot()).quotas[0]).toMatchObject({ used: 700, limit: 700 });
  });

  it("reserves the token estimate, corrects it at settlement, returns it at release", async () => {
    const guard = guardFor();
    const quotas: QuotaRule[] = [{ id: "tokens", scope: "key", type: "tokens", period: "daily", limit: 1_000 }];
    const estimate = { tokens: 400, costMicros: 0 };
    const first = await all(3, () => guard.admit(admission({ quotas, estimate })));
    const [a, b] = first.flatMap((r) => (r.ok ? [r.holdId] : []));
    expect(failureKinds(first)).toEqual({ daily_quota_exceeded: 1 });
    await guard.settle({ holdId: a!, tokens: 100, costMicros: 0, inputTokens: 40, outputTokens: 60 });
    expect((await guard.snapshot()).quotas[0]!.used).toBe(500);
    await guard.release(b!);
    expect((await guard.snapshot()).quotas[0]!.used).toBe(100);
    const refill = await all(3, () => guard.admit(admission({ quotas, estimate })));
    expect(admittedCount(refill)).toBe(2);
  });
});
