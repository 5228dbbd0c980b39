// One suite, run against both real backends of the global bucket: the GlobalLimiter Durable Object and
// Upstash Redis (Lua, through the REST adapter over a local redis-server; skipped, and said so, without one).
import { describe, expect, it } from "vitest";
import { WINDOW_MS, emptyBucket, refundShare, takeShare } from "./fair-share";
import { BACKENDS, REDIS_SKIP_NOTE, T0, runConcurrently, saturate } from "../../test/fixtures/global-limit";
import type { GlobalTake } from "./types";

/** The heavier cases send a few hundred decisions through a real backend on a shared 2-core machine. */
const SLOW_MS = 20_000;
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((s, n) => s + n, 0);
const external = (limits: GlobalTake["limits"], now = T0) => ({ channel: "external" as const, limits, now });

for (const backend of BACKENDS) {
  const note = backend.name === "redis" ? REDIS_SKIP_NOTE : "";
  const test = it.skipIf(!backend.available);

  describe(`global limiter: ${backend.name}${note}`, () => {
    test("limit 30 at concurrency 50: exactly 30 admitted per window, at 10x load too", async () => {
      const limiter = backend.fresh();
      const weights = { a: 1, b: 1, c: 2, d: 3, e: 1 };
      const first = await saturate(limiter, weights, 60, external({ requests_per_minute: 30 }));
      expect(sum(first)).toBe(30);
      // The next window admits exactly the limit again.
      const next = await saturate(limiter, weights, 30, external({ requests_per_minute: 30 }, T0 + WINDOW_MS));
      expect(sum(next)).toBe(30);
    }, SLOW_MS);

    test("weights 1/2/3, all saturating: shares of 1/6, 2/6, 3/6 from the tenants' second window", async () => {
      const limiter = backend.fresh();
      const weights = { light: 1, mid: 2, heavy: 3 };
      const limits = { requests_per_minute: 120 };
      // First window: nobody's demand is known yet, so capacity goes first come, first served.
      expect(sum(await saturate(limiter, weights, 80, external(limits)))).toBe(120);
      const second = await saturate(limiter, weights, 80, external(limits, T0 + WINDOW_MS));
      expect(sum(second)).toBe(120);
      for (const [tenant, weight] of Object.entries(weights)) {
        expect(Math.abs(second[tenant]! / 120 - weight / 6)).toBeLessThanOrEqual(0.05 * (weight / 6));
      }
      expect(second).toEqual({ light: 20, mid: 40, heavy: 60 });
    }, SLOW_MS);

    test("an idle tenant's share is lent to busy ones: a light tenant holds back only what it used", async () => {
      const limiter = backend.fresh();
      const weights = { a: 1, b: 2 };
      const limits = { requests_per_minute: 120 };
      // Window 0: c (weight 3) sends 5 requests; a and b one each.
      for (let i = 0; i < 5; i++) expect((await limiter.take({ ...external(limits), tenantId: "c", weight: 3 })).ok).toBe(true);
      await saturate(limiter, weights, 1, external(limits));
      // Window 1: c is still active (it asked last window) but idle: it holds back 5, not its half of 120.
      const w1 = await saturate(limiter, weights, 70, external(limits, T0 + WINDOW_MS));
      expect(w1.a! + w1.b!).toBe(115);
      expect(w1.a!).toBeGreaterThanOrEqual(20);
      expect(w1.b!).toBeGreaterThanOrEqual(40);
      // c's 5 are there when it comes back within the window.
      const back = await Promise.all(Array.from({ length: 6 }, () => limiter.take({ ...external(limits, T0 + WINDOW_MS + 1), tenantId: "c", weight: 3 })));
      expect(back.filter((d) => d.ok)).toHaveLength(5);
      // Window 2: c asked for 6 in window 1, so 6 are held for it; window 3 is the first without it.
      const w2 = await saturate(limiter, weights, 70, external(limits, T0 + 2 * WINDOW_MS));
      expect(w2.a! + w2.b!).toBe(114);
      const w3 = await saturate(limiter, weights, 70, external(limits, T0 + 3 * WINDOW_MS));
      expect(w3.a! + w3.b!).toBe(120);
    }, SLOW_MS);

    test("with no other tenant around, two busy tenants share the whole bucket", async () => {
      const limiter = backend.fresh();
      const admitted = await saturate(limiter, { a: 1, b: 2 }, 70, external({ requests_per_minute: 120 }));
      expect(admitted.a! + admitted.b!).toBe(120);
    });

    test("window crossing with an injected clock: refused until the boundary, admitted on it", async () => {
      const limiter = backend.fresh();
      const limits = { requests_per_minute: 3 };
      const take = (now: number) => limiter.take({ ...external(limits, now), tenantId: "t", weight: 1 });
      for (let i = 0; i < 3; i++) expect((await take(T0 + 10_000)).ok).toBe(true);
      const refused = await take(T0 + 59_999);
      expect(refused).toMatchObject({ ok: false, reason: "requests", retryAfterMs: 1, windowStart: T0 });
      expect((await take(T0 + 20_000)).retryAfterMs).toBe(40_000);
      const next = await take(T0 + WINDOW_MS);
      expect(next).toMatchObject({ ok: true, retryAfterMs: 0, windowStart: T0 + WINDOW_MS, remainingRequests: 2 });
      // A caller whose clock lags counts in the current window: the bucket never goes back.
      expect(await take(T0 + 30_000)).toMatchObject({ ok: true, windowStart: T0 + WINDOW_MS });
      expect(await take(T0 + 59_000)).toMatchObject({ ok: true, windowStart: T0 + WINDOW_MS, remainingRequests: 0 });
      expect((await take(T0 + WINDOW_MS + 1)).ok).toBe(false);
    });

    test("refund gives one admitted request back in its own window, and is a no-op after it", async () => {
      const limiter = backend.fresh();
      const limits = { requests_per_minute: 2 };
      const take = (now: number) => limiter.take({ ...external(limits, now), tenantId: "t", weight: 1 });
      const first = await take(T0);
      await take(T0);
      expect((await take(T0)).ok).toBe(false);
      await limiter.refund({ tenantId: "t", channel: "external", windowStart: first.windowStart });
      expect((await take(T0 + 1)).ok).toBe(true);
      expect((await take(T0 + 2)).ok).toBe(false);
      // The next window: a refund naming the old one changes nothing.
      await take(T0 + WINDOW_MS);
      await limiter.refund({ tenantId: "t", channel: "external", windowStart: T0 });
      expect((await take(T0 + WINDOW_MS)).ok).toBe(true);
      expect((await take(T0 + WINDOW_MS)).ok).toBe(false);
    });

    test("tokens per minute count the estimate; the refusal names tokens; channels are separate buckets", async () => {
      const limiter = backend.fresh();
      const limits = { tokens_per_minute: 1_000 };
      const take = (tokens: number, channel: "external" | "internal" = "external") => limiter.take({ tenantId: "t", weight: 1, channel, limits, tokens, now: T0 });
      expect(await take(400)).toMatchObject({ ok: true, remainingTokens: 600 });
      expect(await take(400)).toMatchObject({ ok: true, remainingTokens: 200 });
      expect(await take(400)).toMatchObject({ ok: false, reason: "tokens", remainingTokens: 200 });
      expect((await take(200)).ok).toBe(true);
      expect((await take(400, "internal")).ok).toBe(true);
      expect((await take(5_000)).ok).toBe(false);
    });

    test("concurrent refunds and takes never push the window past its limit", async () => {
      const limiter = backend.fresh();
      const limits = { requests_per_minute: 40 };
      const tasks = Array.from({ length: 120 }, (_, i) => async () => {
        const d = await limiter.take({ ...external(limits), tenantId: `t${i % 4}`, weight: 1 + (i % 4) });
        // Every third admitted request is refunded (its tenant guard refused it).
        if (d.ok && i % 3 === 0) {
          await limiter.refund({ tenantId: `t${i % 4}`, channel: "external", windowStart: d.windowStart });
          return 0;
        }
        return d.ok ? 1 : 0;
      });
      const kept = (await runConcurrently(tasks, 50)).reduce<number>((s, n) => s + n, 0);
      expect(kept).toBeLessThanOrEqual(40);
      // What was refunded is there to take again, exactly up to the limit.
      const after = await saturate(limiter, { t0: 1, t1: 2, t2: 3, t3: 4 }, 30, external(limits));
      expect(kept + sum(after)).toBe(40);
    }, SLOW_MS);
  });
}

describe(`the Lua script and fair-share.ts agree${REDIS_SKIP_NOTE}`, () => {
  it.skipIf(!BACKENDS[1]!.available)("on 400 random takes and refunds over several windows, decision by decision", async () => {
    const redis = BACKENDS[1]!.fresh();
    const model = emptyBucket();
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    const weights = [1, 2, 3, 0.5, 1.5];
    let now = T0;
    const admitted: Array<{ tenantId: string; windowStart: number; tokens: number }> = [];
    for (let i = 0; i < 400; i++) {
      now += rand(800);
      if (admitted.length > 0 && rand(10) === 0) {
        const r = admitted.splice(rand(admitted.length), 1)[0]!;
        refundShare(model, r.tenantId, r.windowStart, r.tokens);
        await redis.refund({ ...r, channel: "external" });
        continue;
      }
      const tenant = rand(5);
      const tokens = rand(300);
      const limits = { requests_per_minute: 20, tokens_per_minute: 2_500 };
      const req = { tenantId: `t${tenant}`, weight: weights[tenant]!, limits: [limits.requests_per_minute, limits.tokens_per_minute] as [number, number], tokens, now };
      const expected = takeShare(model, req).decision;
      const got = await redis.take({ tenantId: req.tenantId, weight: req.weight, channel: "external", limits, tokens, now });
      expect({ i, ok: got.ok, retryAfterMs: got.retryAfterMs, windowStart: got.windowStart, remaining: [got.remainingRequests, got.remainingTokens] }).toEqual({
        i,
        ok: expected.ok,
        retryAfterMs: expected.retryAfterMs,
        windowStart: expected.windowStart,
        remaining: expected.remaining,
      });
      expect(model.used[0]).toBeLessThanOrEqual(20);
      expect(model.used[1]).toBeLessThanOrEqual(2_500);
      if (got.ok) admitted.push({ tenantId: req.tenantId, windowStart: got.windowStart, tokens });
    }
  }, SLOW_MS);
});
