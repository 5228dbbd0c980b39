// BanditStats Durable Object: state that survives a restart, arms forgotten after long silence, and
// input it refuses to store.
import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FORGET_AFTER_MS } from "./bandit-stats";
import type { LearningParams, Observation } from "../src/routing/arm-stats";

const T0 = Date.UTC(2030, 0, 1);
const params: LearningParams = { halfLifeMs: 60_000, cooldownFailures: 2, cooldownMs: 10_000 };
const stubOf = (name: string) => env.BANDIT_STATS.get(env.BANDIT_STATS.idFromName(name));
const o = (arm: string, success: boolean, at: number): Observation => ({ arm, success, reward: success ? 1 : 0, latencyMs: 50, at });

describe("BanditStats", () => {
  it("gives identical state whether or not the object restarts between calls", async () => {
    const run = async (name: string, between: () => Promise<void>) => {
      const states = [];
      for (let i = 0; i < 4; i++) {
        states.push(await stubOf(name).record([o("a", i % 2 === 0, T0 + i * 1000), o("b", false, T0 + i * 1000)], params));
        await between();
      }
      states.push(await stubOf(name).read());
      return states;
    };
    const plain = await run("restart-plain", async () => {});
    const restarted = await run("restart-evicted", abortAllDurableObjects);
    expect(restarted).toEqual(plain);
    // "b" failed twice in a row twice: its cool-down was set and the count reset.
    expect(plain.at(-1)!.arms.b).toMatchObject({ consecutiveFailures: 0, cooldownUntil: T0 + 3000 + 10_000 });
  });

  it("writes each batch through to SQLite in one transaction", async () => {
    const stub = stubOf("sqlite");
    await stub.record([o("a", true, T0), o("c", false, T0)], params);
    const rows = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec(`SELECT arm, n FROM arms ORDER BY arm`).toArray());
    expect(rows).toEqual([
      { arm: "a", n: 1 },
      { arm: "c", n: 1 },
    ]);
  });

  it("forgets arms with no observation for 30 days", async () => {
    const stub = stubOf("forget");
    await stub.record([o("old", true, T0)], params);
    const after = await stub.record([o("new", true, T0 + FORGET_AFTER_MS + 1)], params);
    expect(Object.keys(after.arms)).toEqual(["new"]);
  });

  it("stores nothing from malformed learning parameters", async () => {
    const stub = stubOf("bad-params");
    const state = await stub.record([o("a", true, T0)], { ...params, halfLifeMs: 0 });
    expect(state).toEqual({ seq: 0, arms: {} });
  });
});
