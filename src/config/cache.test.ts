// The in-isolate config cache: single flight, TTL with jitter, and version monotonicity (an older value
// is never put back after a newer one was seen), with a fake clock.
import { describe, expect, it } from "vitest";
import { ConfigCache } from "./cache";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("ConfigCache", () => {
  it("concurrent misses load once (single flight)", async () => {
    const cache = new ConfigCache<string>({ ttlMs: 1_000 });
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      loads += 1;
      await gate;
      return { value: "v", version: 1 };
    };
    const pending = Array.from({ length: 50 }, () => cache.get("k", load));
    release();
    expect(await Promise.all(pending)).toEqual(Array(50).fill("v"));
    expect(loads).toBe(1);
  });

  it("an entry lives for the TTL plus up to 20% jitter, and the jitter spreads expiries", async () => {
    const c = clock();
    const cache = new ConfigCache<number>({ ttlMs: 1_000, now: c.now });
    const expiries: number[] = [];
    for (let k = 0; k < 200; k++) {
      c.t = 1_000_000;
      let loads = 0;
      const load = async () => ({ value: ++loads, version: loads });
      await cache.get(`k${k}`, load);
      c.t += 999;
      expect(await cache.get(`k${k}`, load)).toBe(1);
      // Step forward until it reloads.
      while ((await cache.get(`k${k}`, load)) === 1) c.t += 10;
      expiries.push(c.t - 1_000_000);
    }
    expect(Math.min(...expiries)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...expiries)).toBeLessThanOrEqual(1_210);
    expect(new Set(expiries).size).toBeGreaterThan(5);
  });

  it("never goes back to an older version once a newer one was seen (a stale replica answering)", async () => {
    const c = clock();
    const cache = new ConfigCache<string>({ ttlMs: 1_000, jitter: 0, now: c.now });
    await cache.get("k", async () => ({ value: "revision 7", version: 7 }));
    c.t += 1_001;
    expect(await cache.get("k", async () => ({ value: "revision 6", version: 6 }))).toBe("revision 7");
    c.t += 500;
    // The older answer did not shorten the newer value's life: it was re-armed for a full TTL.
    let loaded = false;
    expect(
      await cache.get("k", async () => {
        loaded = true;
        return { value: "x", version: 0 };
      }),
    ).toBe("revision 7");
    expect(loaded).toBe(false);
    c.t += 1_001;
    expect(await cache.get("k", async () => ({ value: "revision 8", version: 8 }))).toBe("revision 8");
  });

  it("invalidate drops one key (an admin write in this isolate applies at once)", async () => {
    const cache = new ConfigCache<string>({ ttlMs: 60_000 });
    await cache.get("a", async () => ({ value: "old", version: 1 }));
    await cache.get("b", async () => ({ value: "kept", version: 1 }));
    cache.invalidate("a");
    expect(await cache.get("a", async () => ({ value: "new", version: 2 }))).toBe("new");
    expect(await cache.get("b", async () => ({ value: "reloaded", version: 2 }))).toBe("kept");
  });

  it("a failed load is not cached and does not block the next caller", async () => {
    const cache = new ConfigCache<string>({ ttlMs: 60_000 });
    await expect(cache.get("k", async () => Promise.reject(new Error("KV down")))).rejects.toThrow("KV down");
    expect(await cache.get("k", async () => ({ value: "back", version: 1 }))).toBe("back");
  });
});
