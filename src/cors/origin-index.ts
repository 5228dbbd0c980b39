// The gateway-wide index of browser origins some API key allows, which preflights are answered from.
// A preflight carries no credential, so it cannot know the key: it is answered for an origin that any
// key allows, identically whichever keys or tenants those are. One KV entry per (pattern, key)
// (`corsorigin:<pattern> <key_id>`): writing one key's entries never races another key's.
import type { Env } from "../env";
import { settingsOf } from "../env";
import { err, fail, ok, type Result } from "../errors";
import { ConfigCache } from "../config/cache";
import { kvKeys, kvPrefixes } from "../config/kv-keys";
import { patternsCovering } from "./origin-patterns";

let cache: ConfigCache<boolean> | undefined;

const unavailable = () => fail("config_unavailable", "The configuration store is unavailable; try again shortly.");

/**
 * Adds a key's patterns to the index. Called before the key record is written: an entry whose record
 * write then failed only lets a browser ask; the request itself is checked against the key.
 */
export async function indexOrigins(env: Env, tenantId: string, keyId: string, patterns: readonly string[]): Promise<Result<void>> {
  try {
    await Promise.all(patterns.map((p) => env.CONFIG_KV.put(kvKeys.corsOrigin(p, keyId), JSON.stringify({ tenant_id: tenantId, key_id: keyId }))));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "origin index write failed", error: String(error) }));
    return err(unavailable());
  }
  cache?.clear();
  return ok(undefined);
}

/** Removes a key's patterns from the index, after the key record no longer has them. */
export async function unindexOrigins(env: Env, keyId: string, patterns: readonly string[]): Promise<Result<void>> {
  try {
    await Promise.all(patterns.map((p) => env.CONFIG_KV.delete(kvKeys.corsOrigin(p, keyId))));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "origin index delete failed", error: String(error) }));
    return err(unavailable());
  }
  cache?.clear();
  return ok(undefined);
}

/** The patterns to add and to remove when a key's `allowed_origins` goes from `before` to `after`. */
export function originChanges(before: readonly string[] | undefined, after: readonly string[] | undefined): { added: string[]; removed: string[] } {
  const was = new Set(before ?? []);
  const now = new Set(after ?? []);
  return { added: [...now].filter((p) => !was.has(p)), removed: [...was].filter((p) => !now.has(p)) };
}

/**
 * Whether some key allows this origin, cached per isolate (answers, negative ones included, for the
 * config cache's TTL; a KV failure is not cached and refuses the preflight).
 */
export async function originIndexed(env: Env, origin: string): Promise<Result<boolean>> {
  const candidates = patternsCovering(origin);
  if (candidates.length === 0) return ok(false);
  cache ??= new ConfigCache({ ttlMs: settingsOf(env).configCacheTtlMs });
  try {
    const found = await cache.get(origin, async () => {
      const lists = await Promise.all(candidates.map((p) => env.CONFIG_KV.list({ prefix: kvPrefixes.corsOrigin(p), limit: 1 })));
      return { value: lists.some((l) => l.keys.length > 0), version: 0 };
    });
    return ok(found);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "origin index read failed", error: String(error) }));
    return err(unavailable());
  }
}
