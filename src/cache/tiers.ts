// Where answers are kept. Hot tier: the Workers Cache API of the colo (caches.default): no extra
// round trip beyond the colo, but per data centre and only on a custom domain (not *.workers.dev).
// Shared tier: Upstash Redis when configured (src/shared-state.ts), else KV (CONFIG_KV): every colo
// reads it, so an answer stored in one is a hit in all. A lookup reads the hot tier, then the shared
// one (copying a shared hit into the hot tier); a store writes both.
import { Redis } from "@upstash/redis/cloudflare";
import type { Env } from "../env";
import { sharedStateBackend, type UpstashConfig } from "../shared-state";
import type { CachedEntry, StoredEntry } from "./entry";

/** KV's shortest expiration; shorter TTLs are enforced by the entry's own expiry. */
const KV_MIN_TTL_S = 60;
/** A made-up origin for the Cache API's keys: never fetched, and no tenant can name it in a request. */
const HOT_ORIGIN = "https://response-cache.gateway.invalid/v1/";

export interface SharedTier {
  readonly name: "kv" | "redis";
  get(key: string): Promise<StoredEntry | null>;
  put(key: string, stored: StoredEntry, ttlS: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** A purge generation ("0" when never purged). */
  generation(name: string): Promise<string>;
  setGeneration(name: string, value: string): Promise<void>;
}

const entryKey = (key: string) => `rcache:entry:${key}`;
const generationKey = (name: string) => `rcache:gen:${name}`;

function kvTier(env: Env): SharedTier {
  const kv = env.CONFIG_KV;
  return {
    name: "kv",
    get: (key) => kv.get<StoredEntry>(entryKey(key), "json"),
    put: (key, stored, ttlS) => kv.put(entryKey(key), JSON.stringify(stored), { expirationTtl: Math.max(KV_MIN_TTL_S, ttlS) }),
    delete: (key) => kv.delete(entryKey(key)),
    generation: async (name) => (await kv.get(generationKey(name))) ?? "0",
    setGeneration: (name, value) => kv.put(generationKey(name), value),
  };
}

export function redisTier(config: UpstashConfig & { prefix?: string }): SharedTier {
  const redis = new Redis({ url: config.url, token: config.token, automaticDeserialization: false });
  const prefix = config.prefix ?? "";
  return {
    name: "redis",
    async get(key) {
      const text = await redis.get<string>(prefix + entryKey(key));
      return text ? (JSON.parse(text) as StoredEntry) : null;
    },
    put: async (key, stored, ttlS) => void (await redis.set(prefix + entryKey(key), JSON.stringify(stored), { ex: ttlS })),
    delete: async (key) => void (await redis.del(prefix + entryKey(key))),
    generation: async (name) => (await redis.get<string>(prefix + generationKey(name))) ?? "0",
    setGeneration: async (name, value) => void (await redis.set(prefix + generationKey(name), value)),
  };
}

export const sharedTierFor: (env: Env) => SharedTier = sharedStateBackend((config) => redisTier(config), kvTier);

/** The colo's Cache API, or null where the runtime has none. */
function hotCache(): Cache | null {
  return typeof caches === "undefined" ? null : (caches as unknown as { default: Cache }).default;
}

export async function hotGet(key: string): Promise<StoredEntry | null> {
  const cache = hotCache();
  const hit = cache ? await cache.match(HOT_ORIGIN + key) : undefined;
  return hit ? ((await hit.json()) as StoredEntry) : null;
}

export async function hotPut(key: string, stored: StoredEntry, ttlS: number): Promise<void> {
  const cache = hotCache();
  if (!cache || ttlS <= 0) return;
  const response = new Response(JSON.stringify(stored), { headers: { "content-type": "application/json", "cache-control": `max-age=${ttlS}` } });
  await cache.put(HOT_ORIGIN + key, response);
}

export async function hotDelete(key: string): Promise<boolean> {
  const cache = hotCache();
  return cache ? cache.delete(HOT_ORIGIN + key) : false;
}

/** Reads the hot tier, then the shared one; a shared hit is copied into the hot tier for its remaining life. */
export async function readEntry(env: Env, exec: ExecutionContext, key: string, now = Date.now()): Promise<{ stored: StoredEntry; tier: "hot" | "shared" } | null> {
  const hot = await hotGet(key);
  if (hot && hot.expiresAt > now) return { stored: hot, tier: "hot" };
  const shared = await sharedTierFor(env).get(key);
  if (!shared || shared.expiresAt <= now) return null;
  const left = Math.floor((shared.expiresAt - now) / 1000);
  if (left > 0) exec.waitUntil(hotPut(key, shared, left).catch(() => undefined));
  return { stored: shared, tier: "shared" };
}

export async function writeEntry(env: Env, key: string, entry: CachedEntry, ttlS: number): Promise<void> {
  const stored: StoredEntry = { entry, expiresAt: entry.storedAt + ttlS * 1000 };
  await Promise.all([hotPut(key, stored, ttlS), sharedTierFor(env).put(key, stored, ttlS)]);
}
