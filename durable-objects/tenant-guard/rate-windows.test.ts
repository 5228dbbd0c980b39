// Sliding-log limiter against a brute-force reference model: same decisions, limits never exceeded.
import { describe, expect, it } from "vitest";
import type { LimitRule } from "../../src/guard/types";
import { RateWindows, WINDOW_MS, levelsOf } from "./rate-windows";

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ModelEntry {
  id: string;
  at: number;
  key: string;
  ip: string;
  tokens: number;
}

const limits: { tenant: LimitRule; key: LimitRule; ip: LimitRule } = {
  tenant: { requests_per_minute: 40, tokens_per_minute: 6_000 },
  key: { requests_per_minute: 15, tokens_per_minute: 3_000 },
  ip: { requests_per_minute: 25 },
};

function modelUse(entries: ModelEntry[], now: number, match: (e: ModelEntry) => boolean) {
  const live = entries.filter((e) => e.at > now - WINDOW_MS && match(e));
  return { requests: live.length, tokens: live.reduce((sum, e) => sum + e.tokens, 0) };
}

function modelAdmits(entries: ModelEntry[], now: number, key: string, ip: string, estimate: number): boolean {
  const checks: [LimitRule, (e: ModelEntry) => boolean][] = [
    [limits.tenant, () => true],
    [limits.key, (e) => e.key === key],
    [limits.ip, (e) => e.ip === ip],
  ];
  return checks.every(([rule, match]) => {
    const use = modelUse(entries, now, match);
    return (rule.requests_per_minute === undefined || use.requests + 1 <= rule.requests_per_minute) && (rule.tokens_per_minute === undefined || use.tokens + estimate <= rule.tokens_per_minute);
  });
}

describe("RateWindows", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`decides exactly like the reference model (seed ${seed})`, () => {
      const rand = random(seed);
      const windows = new RateWindows();
      const entries: ModelEntry[] = [];
      let now = 1_000_000;
      let admitted = 0;
      for (let i = 0; i < 2_500; i++) {
        now += Math.floor(rand() * 300);
        const key = `k${Math.floor(rand() * 3)}`;
        const ip = `ip${Math.floor(rand() * 2)}`;
        const estimate = Math.floor(rand() * 700);
        windows.prune(now);
        const levels = levelsOf("external", key, ip, limits);
        const verdict = windows.evaluate(levels, estimate, now);
        expect(verdict.ok, `request ${i}`).toBe(modelAdmits(entries, now, key, ip, estimate));
        if (verdict.ok) {
          admitted += 1;
          const id = `r${i}`;
          windows.add(id, now, estimate, levels.map((l) => l.subject));
          entries.push({ id, at: now, key, ip, tokens: estimate });
          // Invariant: with this request counted, no level is over its limit.
          expect(modelUse(entries, now, () => true).requests).toBeLessThanOrEqual(40);
          expect(modelUse(entries, now, () => true).tokens).toBeLessThanOrEqual(6_000);
          expect(modelUse(entries, now, (e) => e.key === key).tokens).toBeLessThanOrEqual(3_000);
        }
        // Settle or release some earlier request: the real count is never above the estimate here.
        if (rand() < 0.6 && entries.length > 0) {
          const target = entries[Math.floor(rand() * entries.length)]!;
          const actual = rand() < 0.2 ? 0 : Math.floor(target.tokens * rand());
          windows.setTokens(target.id, actual);
          if (target.at > now - WINDOW_MS) target.tokens = actual;
        }
      }
      expect(admitted).toBeGreaterThan(200);
    });
  }

  it("Retry-After is the exact wait: one millisecond earlier would still be refused", () => {
    const rand = random(42);
    const windows = new RateWindows();
    const levels = levelsOf("external", "k", null, { key: { requests_per_minute: 10, tokens_per_minute: 2_000 } });
    let now = 5_000_000;
    let checked = 0;
    for (let i = 0; i < 1_000; i++) {
      now += Math.floor(rand() * 2_000);
      windows.prune(now);
      const estimate = Math.floor(rand() * 900);
      const verdict = windows.evaluate(levels, estimate, now);
      if (verdict.ok) {
        windows.add(`r${i}`, now, estimate, levels.map((l) => l.subject));
        continue;
      }
      const waitMs = Number(verdict.failure.headers!["retry-after-ms"]);
      expect(verdict.failure.retryAfterSeconds).toBe(Math.ceil(waitMs / 1000));
      // Probe on copies of the state: prune is destructive, so rebuild from the same history.
      const history = windows.entries();
      const probe = (t: number) => {
        const copy = new RateWindows();
        for (const [id, at, tokens] of history) copy.add(id, at, tokens, levels.map((l) => l.subject));
        copy.prune(t);
        return copy.evaluate(levels, estimate, t).ok;
      };
      expect(probe(now + waitMs - 1)).toBe(false);
      expect(probe(now + waitMs)).toBe(true);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("forgets subjects once their requests leave the window", () => {
    const windows = new RateWindows();
    for (let i = 0; i < 100; i++) windows.add(`r${i}`, 1_000 + i, 1, levelsOf("external", `k${i}`, `ip${i}`, {}).map((l) => l.subject));
    expect(windows.subjectCount()).toBe(201);
    windows.prune(1_000 + 99 + WINDOW_MS);
    expect(windows.subjectCount()).toBe(0);
  });
});
