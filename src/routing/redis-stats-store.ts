// Arm statistics on Upstash Redis: one hash per route, updated atomically by a Lua script (EVALSHA,
// EVAL on NOSCRIPT) that does the same arithmetic as applyObservation in arm-stats.ts.
import { Redis } from "@upstash/redis/cloudflare";
import { validObservation, type ArmState, type LearningParams, type Observation, type RouteStats } from "./arm-stats";
import type { ArmStatsStore } from "./arm-stats";

export interface RedisStatsOptions {
  url: string;
  token: string;
  /** Key prefix; a route's hash is `${prefix}:${route}`. Tests give each run its own. */
  prefix?: string;
}

/** A route's hash expires this long after its last write (a route nobody calls any more). */
const KEY_TTL_MS = 30 * 86_400_000;

// Fields per arm: n, r (reward), f (failures), l (latency ms), c (consecutive failures), u (cool-down until), t (updated at).
const FIELDS = { n: "n", reward: "r", failures: "f", latencyMs: "l", consecutiveFailures: "c", cooldownUntil: "u", updatedAt: "t" } as const;

/** KEYS[1] = hash; ARGV = half-life ms, cool-down failures, cool-down ms, ttl ms, then (arm, reward, ok 1/0, latency, at) per observation. */
export const RECORD_SCRIPT = `
local key = KEYS[1]
local hl = tonumber(ARGV[1])
local cf = tonumber(ARGV[2])
local cms = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local function fmt(x) return string.format('%.17g', x) end
for i = 5, #ARGV, 5 do
  local arm = ARGV[i]
  local reward = tonumber(ARGV[i + 1])
  local ok = ARGV[i + 2] == '1'
  local lat = tonumber(ARGV[i + 3])
  local at = tonumber(ARGV[i + 4])
  local v = redis.call('HMGET', key, 'n:' .. arm, 'r:' .. arm, 'f:' .. arm, 'l:' .. arm, 'c:' .. arm, 'u:' .. arm, 't:' .. arm)
  local n = tonumber(v[1]) or 0
  local r = tonumber(v[2]) or 0
  local f = tonumber(v[3]) or 0
  local l = tonumber(v[4]) or 0
  local c = tonumber(v[5]) or 0
  local u = tonumber(v[6]) or 0
  local t = tonumber(v[7]) or 0
  local now = math.max(at, t)
  local d = 1
  if not (n == 0 and t == 0) and now > t then d = 2 ^ (-(now - t) / hl) end
  n = n * d + 1
  r = r * d + reward
  f = f * d
  if not ok then f = f + 1 end
  l = l * d + math.max(0, lat)
  if ok then c = 0 else c = c + 1 end
  if cf > 0 and c >= cf then
    u = math.max(u, now + cms)
    c = 0
  end
  redis.call('HSET', key, 'n:' .. arm, fmt(n), 'r:' .. arm, fmt(r), 'f:' .. arm, fmt(f), 'l:' .. arm, fmt(l), 'c:' .. arm, fmt(c), 'u:' .. arm, fmt(u), 't:' .. arm, fmt(now))
end
redis.call('HINCRBY', key, 'seq', 1)
redis.call('PEXPIRE', key, ttl)
return redis.call('HGETALL', key)
`;

/** KEYS[1] = hash; ARGV = arms to forget (none: all). */
export const RESET_SCRIPT = `
local key = KEYS[1]
if #ARGV == 0 then
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if f ~= 'seq' then redis.call('HDEL', key, f) end
  end
else
  for i = 1, #ARGV do
    for _, p in ipairs({'n:', 'r:', 'f:', 'l:', 'c:', 'u:', 't:'}) do redis.call('HDEL', key, p .. ARGV[i]) end
  end
end
redis.call('HINCRBY', key, 'seq', 1)
return redis.call('HGETALL', key)
`;

const FIELD_OF = new Map<string, keyof ArmState>(Object.entries(FIELDS).map(([name, short]) => [short, name as keyof ArmState]));

/** Turns the hash (as field/value pairs) into RouteStats; the arm id is everything after the first ':'. */
export function parseRouteHash(entries: Iterable<[string, unknown]>): RouteStats {
  const stats: RouteStats = { seq: 0, arms: {} };
  for (const [field, raw] of entries) {
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    if (field === "seq") {
      stats.seq = value;
      continue;
    }
    const split = field.indexOf(":");
    const name = FIELD_OF.get(field.slice(0, split));
    if (split < 0 || !name) continue;
    const arm = field.slice(split + 1);
    const state = (stats.arms[arm] ??= { n: 0, reward: 0, failures: 0, latencyMs: 0, consecutiveFailures: 0, cooldownUntil: 0, updatedAt: 0 });
    state[name] = value;
  }
  return stats;
}

function pairs(flat: unknown): Array<[string, unknown]> {
  const list = Array.isArray(flat) ? flat : [];
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([String(list[i]), list[i + 1]]);
  return out;
}

export function redisArmStatsStore(opts: RedisStatsOptions): ArmStatsStore {
  // No retries: reads feed a cache refreshed every second, and a late reward is worth little.
  const redis = new Redis({ url: opts.url, token: opts.token, retry: false, enableTelemetry: false });
  const record = redis.createScript<unknown[]>(RECORD_SCRIPT);
  const reset = redis.createScript<unknown[]>(RESET_SCRIPT);
  const keyOf = (route: string) => `${opts.prefix ?? "gw:bandit"}:${route}`;

  return {
    backend: "redis",
    async read(route) {
      const hash = await redis.hgetall<Record<string, unknown>>(keyOf(route));
      return parseRouteHash(Object.entries(hash ?? {}));
    },
    async record(route, observations: Observation[], params: LearningParams) {
      // As the Durable Object does: malformed observations (a bug in the caller) are dropped, not stored.
      const valid = observations.filter(validObservation);
      if (valid.length !== observations.length) console.error(JSON.stringify({ level: "error", msg: "bandit stats: invalid observations dropped", received: observations.length, kept: valid.length }));
      if (valid.length === 0) return this.read(route);
      const args = [String(params.halfLifeMs), String(params.cooldownFailures), String(params.cooldownMs), String(KEY_TTL_MS)];
      for (const o of valid) args.push(o.arm, String(o.reward), o.success ? "1" : "0", String(o.latencyMs), String(o.at));
      return parseRouteHash(pairs(await record.exec([keyOf(route)], args)));
    },
    async reset(route, arms) {
      return parseRouteHash(pairs(await reset.exec([keyOf(route)], arms ?? [])));
    },
  };
}
