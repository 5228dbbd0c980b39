// Circuit breakers through the real Worker and the mock provider: failures open the breaker, an open
// breaker costs no upstream call (a fast 503, or the fallback), exactly N probes after the open period,
// and recovery closes it. Presets carry a short `breaker.open_ms` so the test waits seconds, not minutes.
import { env, SELF } from "cloudflare:test";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { BreakerSettings, PresetItem } from "../../src/config/schemas";
import { breakerStates, cachedBreaker, clearBreakerCache } from "../../src/upstream/breaker";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor, waitUntil } from "../fixtures/wait";

const BREAKER: BreakerSettings = { minimum_calls: 4, failure_rate_threshold: 0.5, open_ms: 2_000, half_open_probes: 2 };

let tenant: SeededKey;
let presetWrites = 0;

function chat(stream = false) {
  return SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "breaker test" }], stream }),
  });
}

/** Answers of n requests sent at once: [status, error code] each. */
async function burst(n: number): Promise<Array<[number, string | undefined]>> {
  const responses = await Promise.all(Array.from({ length: n }, () => chat()));
  return Promise.all(responses.map(async (r) => [r.status, r.ok ? (await r.text(), undefined) : ((await r.json()) as any).error.code] as [number, string | undefined]));
}

const tally = (answers: Array<[number, string | undefined]>) => {
  const out: Record<string, number> = {};
  for (const [status, code] of answers) out[`${status} ${code ?? "ok"}`] = (out[`${status} ${code ?? "ok"}`] ?? 0) + 1;
  return out;
};

const upstreamCalls = async (scenario: string) => (await mockRequests(scenario)).count;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for outcomes reported in waitUntil to reach this isolate's breaker cache. */
const until = (check: () => boolean, what: string) => waitUntil(what, check, { intervalMs: 10 });

/** Routes mock-openai-chat to `primary` (with short breaker settings), optionally with a healthy fallback. */
async function route(primary: string, fallback?: string, primaryScenario: Record<string, unknown> = { status: 500 }): Promise<string> {
  await mockScenario(primary, primaryScenario);
  const first = mockPresets(primary).find((p) => p.model === "mock-openai-chat")!;
  const items: PresetItem[] = [{ ...first, breaker: BREAKER }];
  if (fallback) {
    await mockScenario(fallback, {});
    items.push({ ...mockPresets(fallback).find((p) => p.model === "mock-openai-chat")!, priority: 1 });
  }
  // Seconds, not milliseconds: the audit ledger stores the config version as a 32-bit integer.
  await seedPresets(items, Math.floor(Date.now() / 1000) + presetWrites++);
  return first.id;
}

const windowCalls = async (targetId: string) => (await breakerStates(env, [targetId]))[targetId]?.window.calls ?? 0;

/** Waits until the breaker's object has a request's outcome: its window grew, or it left the closed state. */
async function outcomeReported(targetId: string, callsBefore: number) {
  await waitUntil("the request's outcome at the breaker", async () => {
    const now = (await breakerStates(env, [targetId]))[targetId];
    return now !== undefined && (now.state !== "closed" || now.window.calls > callsBefore);
  });
}

/** Sends failing requests until this isolate has learnt that the breaker opened; all fail or fall back. */
async function driveOpen(targetId: string, expectStatus: number) {
  for (let i = 0; i < 4 && cachedBreaker(targetId)?.state !== "open"; i++) {
    const callsBefore = await windowCalls(targetId);
    const res = await chat();
    expect(res.status).toBe(expectStatus);
    await res.text();
    await outcomeReported(targetId, callsBefore);
  }
  await until(() => cachedBreaker(targetId)?.state === "open", "the breaker to open");
}

async function untilOpenPeriodOver(targetId: string) {
  const openUntil = cachedBreaker(targetId)!.openUntil!;
  await sleep(Math.max(0, openUntil - Date.now()) + 50);
}

beforeAll(async () => {
  tenant = await seedTenant();
});

beforeEach(() => clearBreakerCache());

describe("circuit breaker", () => {
  it("opens on failures, answers 503 with no upstream call while open, lets exactly N probes through, and recovers", async () => {
    const targetId = await route("brk-main");
    await driveOpen(targetId, 502);
    expect((await breakerStates(env, [targetId]))[targetId]).toMatchObject({ state: "open", transitions: { "closed->open": 1 } });

    // Open: every request is refused before any upstream call, quickly.
    const before = await upstreamCalls("brk-main");
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const res = await chat();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^[12]$/);
      expect(((await res.json()) as any).error).toMatchObject({ code: "circuit_open", type: "api_error" });
    }
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await upstreamCalls("brk-main")).toBe(before);

    // Half-open with the upstream still down: exactly 2 probes reach it (one attempt each), the rest are
    // refused, and the failed probes re-open the breaker.
    await untilOpenPeriodOver(targetId);
    const failedProbes = await burst(8);
    expect(await upstreamCalls("brk-main")).toBe(before + 2);
    expect(tally(failedProbes)).toEqual({ "502 upstream_error": 2, "503 circuit_open": 6 });
    await until(() => cachedBreaker(targetId)?.state === "open", "the failed probes to re-open it");

    // Half-open with the upstream back: exactly 2 probes again, and their success closes the breaker.
    // The slow answer keeps the probes in flight while the whole burst asks for permits.
    await mockScenario("brk-main", { latency_ms: 500 });
    const beforeRecovery = await upstreamCalls("brk-main");
    await untilOpenPeriodOver(targetId);
    const goodProbes = await burst(8);
    expect(await upstreamCalls("brk-main")).toBe(beforeRecovery + 2);
    expect(tally(goodProbes)).toEqual({ "200 ok": 2, "503 circuit_open": 6 });
    await until(() => cachedBreaker(targetId)?.state === "closed", "the probe success to close it");
    await mockScenario("brk-main", {});

    expect(tally(await burst(4))).toEqual({ "200 ok": 4 });
    expect(await upstreamCalls("brk-main")).toBe(beforeRecovery + 6);
    const final = (await breakerStates(env, [targetId]))[targetId]!;
    expect(final.state).toBe("closed");
    expect(final.transitions).toMatchObject({ "closed->open": 1, "open->half_open": 2, "half_open->open": 1, "half_open->closed": 1 });
  }, 20_000);

  it("counts a stream that breaks after its first byte as a failure, and a complete one as a success", async () => {
    const targetId = await route("brk-stream", undefined, {});
    for (let i = 0; i < 3; i++) {
      const res = await chat(true);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("data: [DONE]");
    }
    // Complete streams are plain successes, sent in the isolate's batch (within about a second).
    const state = await waitFor("three calls in the breaker's window", async () => {
      const now = (await breakerStates(env, [targetId]))[targetId]!;
      return now.window.calls >= 3 && now;
    });
    expect(state).toMatchObject({ state: "closed", window: { calls: 3, failures: 0 } });

    // Now every stream is reset after two chunks: the client got its 200 and headers, then an error event.
    await mockScenario("brk-stream", { fault: "reset_mid_stream", fault_after_chunks: 2, chunks: 6 });
    let broken = 0;
    for (let i = 0; i < 6 && cachedBreaker(targetId)?.state !== "open"; i++) {
      const callsBefore = await windowCalls(targetId);
      const res = await chat(true);
      // This isolate may learn of the opening from its next breaker check rather than from the reply.
      if (res.status === 503) {
        expect(((await res.json()) as any).error.code).toBe("circuit_open");
        break;
      }
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).not.toContain("data: [DONE]");
      expect(body).toContain('"code":"upstream_error"');
      broken++;
      await outcomeReported(targetId, callsBefore);
    }
    // 3 successes in the window: opening at a 50 % failure rate takes at least 3 broken streams.
    expect(broken).toBeGreaterThanOrEqual(3);
    await until(() => cachedBreaker(targetId)?.state === "open", "broken streams to open the breaker");
    expect((await breakerStates(env, [targetId]))[targetId]).toMatchObject({ state: "open", transitions: { "closed->open": 1 } });

    // Open: the next stream is refused before any upstream call.
    const before = await upstreamCalls("brk-stream");
    const refused = await chat(true);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as any).error.code).toBe("circuit_open");
    expect(await upstreamCalls("brk-stream")).toBe(before);
  }, 15_000);

  it("sends requests to the fallback while the primary's breaker is open, without calling the primary", async () => {
    const targetId = await route("brk-primary", "brk-fallback");
    await driveOpen(targetId, 200);
    const primaryBefore = await upstreamCalls("brk-primary");
    const fallbackBefore = await upstreamCalls("brk-fallback");
    expect(tally(await burst(5))).toEqual({ "200 ok": 5 });
    expect(await upstreamCalls("brk-primary")).toBe(primaryBefore);
    expect(await upstreamCalls("brk-fallback")).toBe(fallbackBefore + 5);
  });
});
