// Reads tenant, key, service and preset configuration from KV through the in-isolate cache.
// A KV failure is reported as a value so the caller can fail closed (503), never open.
import type { z } from "zod";
import type { Env } from "../env";
import { settingsOf } from "../env";
import { err, fail, ok, type Result } from "../errors";
import { ConfigCache } from "./cache";
import { kvKeys } from "./kv-keys";
import { presetsVersionKey } from "../routing/keys";
import {
  ApiKeyRecordSchema,
  GlobalLimitsDocumentSchema,
  PresetsDocumentSchema,
  ServiceRecordSchema,
  TenantRecordSchema,
  type ApiKeyRecord,
  type GlobalLimitsDocument,
  type PresetsDocument,
  type ServiceRecord,
  type TenantRecord,
} from "./schemas";

type Loaded<T> = T | null;

// One cache per isolate; entries expire after CONFIG_CACHE_TTL_MS (+ up to 20% jitter).
let cache: ConfigCache<Loaded<unknown>> | undefined;

function cacheFor(env: Env): ConfigCache<Loaded<unknown>> {
  cache ??= new ConfigCache({ ttlMs: settingsOf(env).configCacheTtlMs });
  return cache;
}

/** Drops a key from this isolate's cache (called by admin writes so they apply here at once). */
export function invalidateConfig(key: string): void {
  cache?.invalidate(key);
}

export function clearConfigCache(): void {
  cache?.clear();
}

/** The number a cached record is ordered by: its `revision` where it has one (the live presets), else its `version`. */
function cacheVersionOf(record: { version?: number; revision?: number }): number {
  return record.revision ?? record.version ?? 0;
}

async function readRecord<S extends z.ZodType>(env: Env, key: string, schema: S): Promise<Result<z.output<S> | null>> {
  try {
    const value = await cacheFor(env).get(key, async () => {
      const raw = await env.CONFIG_KV.get(key, "json");
      if (raw === null) return { value: null, version: -1 };
      const parsed = schema.parse(raw) as { version?: number; revision?: number };
      return { value: parsed, version: cacheVersionOf(parsed) };
    });
    return ok(value as z.output<S> | null);
  } catch (error) {
    // Only the key's prefix is logged: the rest of an apikey/service key is a credential hash.
    console.error(JSON.stringify({ level: "error", msg: "config read failed", key: key.split(":")[0], error: String(error) }));
    return err(fail("config_unavailable", "configuration store unavailable"));
  }
}

export const configStore = {
  tenant: (env: Env, tenantId: string): Promise<Result<TenantRecord | null>> => readRecord(env, kvKeys.tenant(tenantId), TenantRecordSchema),
  apiKeyByHash: (env: Env, keyHash: string): Promise<Result<ApiKeyRecord | null>> =>
    readRecord(env, kvKeys.apiKeyByHash(keyHash), ApiKeyRecordSchema),
  serviceByHash: (env: Env, tokenHash: string): Promise<Result<ServiceRecord | null>> =>
    readRecord(env, kvKeys.serviceByHash(tokenHash), ServiceRecordSchema),
  presets: (env: Env): Promise<Result<PresetsDocument | null>> => readRecord(env, kvKeys.presets(), PresetsDocumentSchema),
  /** One immutable presets version (`config:presets:v:<n>`), for tenants in a rollout; null if it was never staged. */
  presetsVersion: (env: Env, version: number): Promise<Result<PresetsDocument | null>> =>
    readRecord(env, presetsVersionKey(version), PresetsDocumentSchema),
  /** The global bucket's limits per channel (`PUT /admin/v1/limits/global`); null before the first write. */
  globalLimits: (env: Env): Promise<Result<GlobalLimitsDocument | null>> => readRecord(env, kvKeys.globalLimits(), GlobalLimitsDocumentSchema),
};
