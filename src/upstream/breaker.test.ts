// The breaker's hot-path side against real UpstreamHealth objects: the in-isolate cache, outcomes
// reported through waitUntil, skipping open targets, exactly N probes, and the admin accessor.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { PresetItemSchema, type BreakerSettings, type PresetItem } from "../config/schemas";
import {
  breakerBlocks,
  breakerConfigOf,
  breakerStates,
  cachedBreaker,
  clearBreakerCache,
  DEFAULT_BREAKER_CONFIG,
  isBreakerFailure,
  passBreaker,
  reportOutcome,
  withoutOpenTargets,
} from "./breaker";

function target(breaker?: BreakerSettings): PresetItem {
  return PresetItemSchema.parse({
    id: `t-${crypto.randomUUID()}`,
    capability: "chat",
    model: "m",
    provider: "openai",
    base_url: "https://api.example.com/v1",
    ...(breaker ? { breaker } : {}),
  });
}

/** Reports n outcomes as call_upstream does, and waits for their waitUntil work (the record replies). */
async function report(t: PresetItem, ok: boolean, n: number) {
  const exec = createExecutionContext();
  for (let i = 0; i < n; i++) reportOutcome(env, exec, t, { ok, latencyMs: 5 });
  await waitOnExecutionContext(exec);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => clearBreakerCache());

describe("settings and classification", () => {
  it("merges a preset's overrides over the defaults", () => {
    expect(breakerConfigOf(target())).toEqual(DEFAULT_BREAKER_CONFIG);
    expect(breakerConfigOf(target({ open_ms: 500, half_open_probes: 1 }))).toEqual({ ...DEFAULT_BREAKER_CONFIG, open_ms: 500, half_open_probes: 1 });
  });

  it("rejects nonsense overrides when presets are read", () => {
    expect(PresetItemSchema.safeParse({ ...target(), breaker: { failure_rate_threshold: 1.5 } }).success).toBe(false);
    expect(PresetItemSchema.safeParse({ ...target(), breaker: { minimum_calls: 0 } }).success).toBe(false);
    expect(PresetItemSchema.safeParse({ ...target(), breaker: { surprise: 1 } }).success).toBe(false);
  });

  it("counts no answer, 5xx, 408, 429 and broken bodies against the upstream, not its 4xx verdicts", () => {
    expect(isBreakerFailure({ ok: true, status: 200 })).toBe(false);
    expect(isBreakerFailure({ ok: false })).toBe(true);
    for (const status of [500, 502, 503, 504, 408, 429, 302]) expect(isBreakerFailure({ ok: false, status })).toBe(true);
    expect(isBreakerFailure({ ok: false, status: 200 })).toBe(true); // oversized or broken body
    for (const status of [400, 401, 404, 422]) expect(isBreakerFailure({ ok: false, status })).toBe(false);
  });
});

describe("the hot path", () => {
  it("lets an unknown target through at once and learns its state in the background", async () => {
    const t = target();
    const exec = createExecutionContext();
    expect(await passBreaker(env, exec, t)).toEqual({ allowed: true });
    expect(cachedBreaker(t.id)).toBeUndefined();
    await waitOnExecutionContext(exec);
    expect(cachedBreaker(t.id)).toMatchObject({ state: "closed" });
  });

  it("learns from record() replies that a breaker opened, then skips the target without asking", async () => {
    const t = target({ minimum_calls: 4, open_ms: 60_000 });
    await report(t, false, 3);
    expect(breakerBlocks(t.id)).toBe(false);
    await report(t, false, 1);
    expect(cachedBreaker(t.id)).toMatchObject({ state: "open", target: t.id, transitions: { "closed->open": 1 } });
    expect(breakerBlocks(t.id)).toBe(true);
    const gate = await passBreaker(env, createExecutionContext(), t);
    expect(gate.allowed).toBe(false);
    expect(!gate.allowed && gate.retryAfterMs).toBeGreaterThan(59_000);
  });

  it("after the open period lets exactly N of 12 concurrent callers probe, then refuses without asking", async () => {
    const t = target({ minimum_calls: 2, open_ms: 1, half_open_probes: 2 });
    await report(t, false, 2);
    expect(cachedBreaker(t.id)?.state).toBe("open");
    await sleep(5);
    const exec = createExecutionContext();
    const gates = await Promise.all(Array.from({ length: 12 }, () => passBreaker(env, exec, t)));
    const probes = gates.filter((g) => g.allowed);
    expect(probes).toHaveLength(2);
    expect(probes.every((g) => g.allowed && g.probeCycle === 1)).toBe(true);
    expect(cachedBreaker(t.id)).toMatchObject({ state: "half_open", probes: { granted: 2, limit: 2 } });
    expect(breakerBlocks(t.id)).toBe(true);
  });

  it("a reported probe success closes the breaker for this isolate too", async () => {
    const t = target({ minimum_calls: 2, open_ms: 1, half_open_probes: 1 });
    await report(t, false, 2);
    await sleep(5);
    const gate = await passBreaker(env, createExecutionContext(), t);
    expect(gate).toEqual({ allowed: true, probeCycle: 1 });
    const exec = createExecutionContext();
    reportOutcome(env, exec, t, { ok: true, latencyMs: 5, probeCycle: 1 });
    await waitOnExecutionContext(exec);
    expect(cachedBreaker(t.id)?.state).toBe("closed");
    expect(await passBreaker(env, createExecutionContext(), t)).toEqual({ allowed: true });
  });
});

describe("routing and the admin accessor", () => {
  it("drops targets known to be open, and fails with circuit_open when none is left", async () => {
    const healthy = target();
    const broken = target({ minimum_calls: 1, open_ms: 30_000 });
    await report(broken, false, 1);
    const both = withoutOpenTargets([broken, healthy]);
    expect(both.ok && both.value.map((t) => t.id)).toEqual([healthy.id]);
    const none = withoutOpenTargets([broken]);
    expect(none.ok).toBe(false);
    expect(!none.ok && none.failure).toMatchObject({ kind: "circuit_open", retryAfterSeconds: 30 });
  });

  it("breakerStates reads each object and refreshes this isolate's cache", async () => {
    const a = target({ minimum_calls: 1 });
    const b = target();
    await report(a, false, 1);
    clearBreakerCache();
    const states = await breakerStates(env, [a.id, b.id]);
    expect(states[a.id]).toMatchObject({ state: "open", target: a.id });
    expect(states[b.id]).toMatchObject({ state: "closed", window: { calls: 0 } });
    expect(breakerBlocks(a.id)).toBe(true);
  });
});
