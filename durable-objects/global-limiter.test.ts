// GlobalLimiter Durable Object specifics (the shared backend suite is src/global-limit/global-limiter.test.ts):
// state survives a restart, inactive tenants leave storage when the window rolls, odd inputs are tamed.
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WINDOW_MS } from "../src/global-limit/fair-share";
import { T0 } from "../test/fixtures/global-limit";
import type { GlobalDecision, GlobalTake } from "../src/global-limit/types";
import type { GlobalBucketSnapshot, GlobalLimiter } from "./global-limiter";

/** The RPC view of the object: its synchronous methods answer as promises. */
type Stub = { [M in "take" | "refund" | "snapshot"]: (...args: Parameters<GlobalLimiter[M]>) => Promise<ReturnType<GlobalLimiter[M]>> };
const objectFor = (name: string) => env.GLOBAL_LIMITER.get(env.GLOBAL_LIMITER.idFromName(name)) as unknown as Stub;

const take = (over: Partial<GlobalTake>): GlobalTake => ({
  tenantId: "a",
  weight: 1,
  channel: "external",
  limits: { requests_per_minute: 12, tokens_per_minute: 5_000 },
  tokens: 100,
  now: T0,
  ...over,
});

describe("GlobalLimiter object", () => {
  // The same operations with and without an eviction between each: every answer must be identical.
  async function scenario(name: string, restart: () => Promise<void>): Promise<unknown[]> {
    const answers: unknown[] = [];
    const ops: Array<(s: Stub) => Promise<GlobalDecision | boolean | GlobalBucketSnapshot>> = [];
    for (let i = 0; i < 8; i++) ops.push((s) => s.take(take({ tenantId: i % 2 ? "a" : "b", weight: i % 2 ? 1 : 2 })));
    ops.push((s) => s.refund({ tenantId: "a", channel: "external", windowStart: T0, tokens: 100 }));
    for (let i = 0; i < 8; i++) ops.push((s) => s.take(take({ tenantId: "c", weight: 3, now: T0 + 1_000 })));
    for (let i = 0; i < 6; i++) ops.push((s) => s.take(take({ tenantId: "a", now: T0 + WINDOW_MS })));
    ops.push((s) => s.snapshot("external"));
    for (const op of ops) {
      answers.push(await op(objectFor(name)));
      await restart();
    }
    return answers;
  }

  it("gives identical answers whether or not the object restarts between calls", async () => {
    const plain = await scenario("restart-plain", async () => {});
    const restarted = await scenario("restart-evicted", abortAllDurableObjects);
    expect(restarted).toEqual(plain);
    // The scenario does hit the limit and the refund, so the comparison is not between trivial answers.
    expect(plain.filter((a) => (a as GlobalDecision).ok === false).length).toBeGreaterThan(0);
    expect(plain).toContain(true);
  });

  it("forgets tenants that were inactive for a whole window, in memory and in storage", async () => {
    const stub = objectFor("prune");
    await stub.take(take({ tenantId: "old" }));
    await stub.take(take({ tenantId: "recent", now: T0 + WINDOW_MS }));
    await stub.take(take({ tenantId: "now", now: T0 + 2 * WINDOW_MS }));
    expect(Object.keys((await stub.snapshot("external")).tenants).sort()).toEqual(["now", "recent"]);
    await abortAllDurableObjects();
    const after = await objectFor("prune").snapshot("external");
    expect(Object.keys(after.tenants).sort()).toEqual(["now", "recent"]);
    expect(after).toMatchObject({ window: (T0 + 2 * WINDOW_MS) / WINDOW_MS, usedRequests: 1, usedTokens: 100 });
  });

  it("treats a missing or invalid weight as 1 and ignores non-positive limits", async () => {
    const stub = objectFor("odd-input");
    const d = await stub.take(take({ weight: Number.NaN, limits: { requests_per_minute: 0, tokens_per_minute: -5 }, tokens: -3 }));
    expect(d).toEqual({ ok: true, retryAfterMs: 0, windowStart: T0 });
    expect((await stub.snapshot("external")).tenants.a).toMatchObject({ weight: 1, used: [1, 0] });
  });
});
