// @upstash/redis against the local REST adapter and a real redis-server (skipped when none answers).
import { Redis } from "@upstash/redis";
import { afterAll, describe, expect, inject, it } from "vitest";

const url = inject("redisRestUrl");
const token = inject("redisRestToken");
if (!url) console.log("[redis-rest.test] SKIPPED: no redis-server answered (see the [test-redis] line), so Redis was not tested");
const live = it.skipIf(!url);

// The redis-server is shared with other runs: every key lives under this run's prefix.
const prefix = `gw-test:${crypto.randomUUID()}:`;
const k = (name: string) => prefix + name;
const redis = new Redis({ url: url || "http://127.0.0.1:9", token: token || "none", retry: false });

afterAll(async () => {
  if (!url) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
});

describe("Upstash REST adapter", () => {
  live("round-trips strings, JSON values and non-ASCII text through base64 replies", async () => {
    expect(await redis.set(k("s"), "héllo ✓")).toBe("OK");
    expect(await redis.get(k("s"))).toBe("héllo ✓");
    await redis.set(k("j"), { a: 1, b: ["x"] });
    expect(await redis.get(k("j"))).toEqual({ a: 1, b: ["x"] });
    expect(await redis.get(k("missing"))).toBeNull();
    expect(await redis.set(k("s"), "again", { nx: true })).toBeNull();
  });

  live("INCR and EXPIRE return integers; a type error comes back as an error", async () => {
    expect(await redis.incr(k("n"))).toBe(1);
    expect(await redis.incrby(k("n"), 41)).toBe(42);
    expect(await redis.expire(k("n"), 60)).toBe(1);
    expect(await redis.ttl(k("n"))).toBeGreaterThan(0);
    await redis.set(k("text"), "abc");
    await expect(redis.incr(k("text"))).rejects.toThrow(/not an integer/);
  });

  live("EVAL and scripts (EVALSHA with the NOSCRIPT fallback)", async () => {
    const lua = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), redis.call('STRLEN', KEYS[1])}";
    expect(await redis.eval(lua, [k("e")], ["value"])).toEqual(["value", 5]);
    const script = redis.createScript<number>("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await script.exec([k("c")], ["5"])).toBe(5);
    expect(await script.exec([k("c")], ["5"])).toBe(10);
  });

  live("pipeline returns every reply in order", async () => {
    const p = redis.pipeline();
    p.set(k("p1"), "one");
    p.incr(k("p2"));
    p.get(k("p1"));
    p.hset(k("h"), { f: "v", g: "w" });
    p.hgetall(k("h"));
    expect(await p.exec()).toEqual(["OK", 1, "one", 2, { f: "v", g: "w" }]);
  });

  live("multi-exec runs atomically", async () => {
    const tx = redis.multi();
    tx.incr(k("m"));
    tx.incr(k("m"));
    tx.get(k("m"));
    expect(await tx.exec()).toEqual([1, 2, 2]);
  });

  live("refuses a wrong token and commands that would hurt the shared server", async () => {
    const intruder = new Redis({ url: url || "http://127.0.0.1:9", token: "wrong", retry: false });
    await expect(intruder.get(k("s"))).rejects.toThrow(/Unauthorized/);
    await expect(redis.flushall()).rejects.toThrow(/not allowed/);
  });
});
