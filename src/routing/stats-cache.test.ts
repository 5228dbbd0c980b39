// The routing step's in-isolate view of arm statistics: never waits, refreshes at most once a second in
// waitUntil, keeps the newest reply, and reports "cold" / "unavailable" so routing degrades to static weights.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LearningParams, Observation } from "./arm-stats";
import { redisArmStatsStore } from "./redis-stats-store";
import { ArmStatsCache, STATS_MAX_AGE_MS, STATS_REFRESH_MS } from "./stats-cache";
import { durableObjectArmStatsStore, type ArmStatsStore } from "./stats-store";

const params: LearningParams = { halfLifeMs: 60_000, cooldownFailures: 5, cooldownMs: 30_000 };
const success = (arm: string): Observation => ({ arm, success: true, reward: 1, latencyMs: 10, at: Date.now() });

/** The real Durable Object store, with a switch that makes every call fail as during an outage, and a read counter. */
function switchableStore() {
  const real = durableObjectArmStatsStore(env.BANDIT_STATS, `cache-test-${crypto.randomUUID()}:`);
  const control = { down: false, reads: 0 };
  const guard = <T>(call: () => Promise<T>) => (control.down ? Promise.reject(new Error("store unreachable (injected)")) : call());
  const store: ArmStatsStore = {
    backend: real.backend,
    read: (route) => {
      control.reads += 1;
      return guard(() => real.read(route));
    },
    record: (route, observations, p) => guard(() => real.record(route, observations, p)),
    reset: (route, arms) => guard(() => real.reset(route, arms)),
  };
  return { store, real, control };
}

async function settle(run: (exec: ExecutionContext) => void): Promise<void> {
  const exec = createExecutionContext();
  run(exec);
  await waitOnExecutionContext(exec);
}

describe("arm statistics cache", () => {
  it("cold at first, then the statistics read in the background", async () => {
    const { store, real } = switchableStore();
    await real.record("r", [success("a")], params);
    const cache = new ArmStatsCache(store);
    let first;
    await settle((exec) => (first = cache.view(exec, "r")));
    expect(first).toEqual({ state: "cold" });
    let second;
    await settle((exec) => (second = cache.view(exec, "r")));
    expect(second).toMatchObject({ state: "ok", stats: { seq: 1, arms: { a: { n: 1 } } } });
  });

  it("refreshes at most once per second however many requests ask", async () => {
    const { store, control } = switchableStore();
    const cache = new ArmStatsCache(store);
    const now = Date.now();
    await settle((exec) => {
      for (let i = 0; i < 100; i++) cache.view(exec, "r", now + i);
    });
    expect(control.reads).toBe(1);
    await settle((exec) => cache.view(exec, "r", now + STATS_REFRESH_MS - 1));
    expect(control.reads).toBe(1);
    await settle((exec) => cache.view(exec, "r", Date.now() + STATS_REFRESH_MS));
    expect(control.reads).toBe(2);
  });

  it("unavailable when the store cannot be read (a Redis that does not answer)", async () => {
    const cache = new ArmStatsCache(redisArmStatsStore({ url: "http://127.0.0.1:9", token: "none" }));
    await settle((exec) => expect(cache.view(exec, "r")).toEqual({ state: "cold" }));
    await settle((exec) => expect(cache.view(exec, "r")).toEqual({ state: "unavailable" }));
  });

  it("keeps serving recent statistics through a short outage, and degrades once they are older than the maximum age", async () => {
    const { store, real, control } = switchableStore();
    await real.record("r", [success("a")], params);
    const cache = new ArmStatsCache(store);
    await settle((exec) => cache.view(exec, "r"));
    control.down = true;
    const fetched = Date.now();
    await settle((exec) => expect(cache.view(exec, "r", fetched + STATS_REFRESH_MS + 10).state).toBe("ok"));
    await settle((exec) => expect(cache.view(exec, "r", fetched + STATS_MAX_AGE_MS + 100)).toEqual({ state: "unavailable" }));
    control.down = false;
    await settle((exec) => cache.view(exec, "r", Date.now() + STATS_MAX_AGE_MS + 2 * STATS_REFRESH_MS));
    await settle((exec) => expect(cache.view(exec, "r").state).toBe("ok"));
  });

  it("a report's reply refreshes the cache; an older reply never replaces a newer one", async () => {
    const { store } = switchableStore();
    const cache = new ArmStatsCache(store);
    await settle((exec) => cache.report(exec, "r", [success("a"), success("b")], params));
    let view;
    await settle((exec) => (view = cache.view(exec, "r")));
    expect(view).toMatchObject({ state: "ok", stats: { seq: 1 } });
    const sentBefore = Date.now() - 60_000;
    cache.remember("r", { seq: 0, arms: {} }, sentBefore);
    await settle((exec) => expect(cache.view(exec, "r")).toMatchObject({ state: "ok", stats: { seq: 1 } }));
    // A lower seq asked for after the newer reply arrived is a reset store, and is taken.
    await new Promise((r) => setTimeout(r, 5));
    cache.remember("r", { seq: 0, arms: {} }, Date.now());
    await settle((exec) => expect(cache.view(exec, "r")).toMatchObject({ state: "ok", stats: { seq: 0, arms: {} } }));
  });
});
