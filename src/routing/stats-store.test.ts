// One suite, run against both real arm-statistics backends: the BanditStats Durable Object and Upstash
// Redis (Lua through the REST adapter over a local redis-server; skipped, and said so, without one).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyObservations, type ArmState, type LearningParams, type Observation } from "./arm-stats";
import { seededRandom } from "./beta";
import { redisArmStatsStore } from "./redis-stats-store";
import { durableObjectArmStatsStore, type ArmStatsStore } from "./stats-store";

const redisAvailable = env.TEST_REDIS_REST_URL !== "";
const REDIS_SKIP_NOTE = redisAvailable ? "" : " [SKIPPED: no redis-server answered on 127.0.0.1:6379, so the Redis backend was not tested]";
const T0 = Date.UTC(2030, 0, 1);
const params: LearningParams = { halfLifeMs: 60_000, cooldownFailures: 4, cooldownMs: 30_000 };

const BACKENDS: Array<{ name: string; available: boolean; fresh: () => ArmStatsStore }> = [
  { name: "durable_object", available: true, fresh: () => durableObjectArmStatsStore(env.BANDIT_STATS, `test-${crypto.randomUUID()}:`) },
  {
    name: "redis",
    available: redisAvailable,
    fresh: () => redisArmStatsStore({ url: env.TEST_REDIS_REST_URL, token: env.TEST_REDIS_REST_TOKEN, prefix: `gw-test:${crypto.randomUUID()}:bandit` }),
  },
];

function randomObservations(count: number, seed: number): Observation[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const success = random() < 0.7;
    return { arm: ["a", "b", "c"][i % 3]!, success, reward: success ? Math.round(random() * 1000) / 1000 : 0, latencyMs: Math.round(random() * 2000), at: T0 + i * 997 };
  });
}

function expectClose(actual: Record<string, ArmState>, expected: Map<string, ArmState>) {
  expect(Object.keys(actual).sort()).toEqual([...expected.keys()].sort());
  for (const [arm, want] of expected) {
    const got = actual[arm]!;
    for (const field of ["n", "reward", "failures", "latencyMs"] as const) expect(got[field]).toBeCloseTo(want[field], 9);
    expect(got.consecutiveFailures).toBe(want.consecutiveFailures);
    expect(got.cooldownUntil).toBe(want.cooldownUntil);
    expect(got.updatedAt).toBe(want.updatedAt);
  }
}

for (const backend of BACKENDS) {
  const test = it.skipIf(!backend.available);

  describe(`arm statistics store: ${backend.name}${backend.name === "redis" ? REDIS_SKIP_NOTE : ""}`, () => {
    test("applies observations with exactly the arithmetic of applyObservation (decay, cool-down)", async () => {
      const store = backend.fresh();
      const observations = randomObservations(120, 7);
      let last;
      for (let i = 0; i < observations.length; i += 10) last = await store.record("route-x", observations.slice(i, i + 10), params);
      const expected = new Map<string, ArmState>();
      applyObservations(expected, observations, params);
      expectClose(last!.arms, expected);
      expect(last!.seq).toBe(12);
      const read = await store.read("route-x");
      expectClose(read.arms, expected);
      expect(read.seq).toBe(12);
    });

    test("50 concurrent reports from many isolates: none lost, consecutive failures counted across them", async () => {
      const store = backend.fresh();
      const fail = (i: number): Observation => ({ arm: "flaky", success: false, reward: 0, latencyMs: 10, at: T0 + i });
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => store.record("route-c", [fail(i)], { ...params, cooldownFailures: 1000 })));
      expect(Math.max(...replies.map((r) => r.seq))).toBe(50);
      const state = (await store.read("route-c")).arms.flaky!;
      expect(state.consecutiveFailures).toBe(50);
      expect(state.n).toBeCloseTo(50, 1);
      // Four more, concurrently, with a cool-down after 4 in a row: exactly one cool-down starts.
      const more = await Promise.all(Array.from({ length: 4 }, (_, i) => store.record("route-d", [fail(100 + i)], params)));
      const cooled = (await store.read("route-d")).arms.flaky!;
      expect(cooled.cooldownUntil).toBe(T0 + 103 + 30_000);
      expect(cooled.consecutiveFailures).toBe(0);
      expect(more).toHaveLength(4);
    });

    test("routes are independent, and reset forgets arms", async () => {
      const store = backend.fresh();
      await store.record("r1", [{ arm: "a", success: true, reward: 1, latencyMs: 5, at: T0 }, { arm: "b", success: true, reward: 1, latencyMs: 5, at: T0 }], params);
      await store.record("r2", [{ arm: "a", success: false, reward: 0, latencyMs: 5, at: T0 }], params);
      expect((await store.read("r1")).arms.a!.reward).toBe(1);
      expect((await store.read("r2")).arms.a!.reward).toBe(0);
      const afterOne = await store.reset("r1", ["a"]);
      expect(Object.keys(afterOne.arms)).toEqual(["b"]);
      const afterAll = await store.reset("r1");
      expect(afterAll.arms).toEqual({});
      expect(afterAll.seq).toBeGreaterThan(afterOne.seq);
      expect(Object.keys((await store.read("r2")).arms)).toEqual(["a"]);
    });

    test("a route never written reads as empty", async () => {
      expect(await backend.fresh().read("nothing-here")).toEqual({ seq: 0, arms: {} });
    });

    test("drops observations that are not numbers in range (a caller's bug), keeps the valid ones", async () => {
      const store = backend.fresh();
      const good = { arm: "a", success: true, reward: 1, latencyMs: 1, at: T0 };
      await store.record("bad", [{ ...good, reward: 2 }, { ...good, arm: "" }, { ...good, latencyMs: Number.NaN }], params);
      expect((await store.read("bad")).arms).toEqual({});
      const kept = await store.record("bad", [{ ...good, reward: -1 }, good], params);
      expect(Object.keys(kept.arms)).toEqual(["a"]);
      expect(kept.arms.a!.n).toBe(1);
    });
  });
}
