// Loads the records behind admin ids: tenants by id, keys and services through their secret-free
// index entries. Unknown ids (and another tenant's key ids) are all the same 404.
import { z } from "zod";
import type { Env } from "../env";
import { err, fail, ok, type Result } from "../errors";
import { kvKeys } from "../config/kv-keys";
import { ApiKeyRecordSchema, ServiceRecordSchema, TenantRecordSchema, type ApiKeyRecord, type ServiceRecord, type TenantRecord } from "../config/schemas";
import { readJson } from "./kv";

/** `tenants:<id>`: lists tenants. */
export const TenantIndexSchema = z.object({ id: z.string(), created_at: z.string() });
/** `tenantkey:<tenant>:<key>`: finds a key's record (stored under the SHA-256 of the key) by id. */
export const ApiKeyIndexSchema = z.object({ id: z.string(), key_hash: z.string().regex(/^[0-9a-f]{64}$/), created_at: z.string() });
/** `services:<id>`: finds a service's record (stored under the SHA-256 of its token) by id. */
export const ServiceIndexSchema = z.object({ id: z.string(), token_hash: z.string().regex(/^[0-9a-f]{64}$/), created_at: z.string() });

const missing = (what: string) => fail("not_found", `${what} does not exist.`);

export async function loadTenant(env: Env, tenantId: string): Promise<Result<TenantRecord>> {
  const read = await readJson(env, kvKeys.tenant(tenantId), TenantRecordSchema);
  if (!read.ok) return read;
  return read.value ? ok(read.value) : err(missing(`Tenant ${tenantId}`));
}

export interface LoadedKey {
  record: ApiKeyRecord;
  keyHash: string;
}

/** Looks the key up under this tenant only, so another tenant's key id is simply not found. */
export async function loadKey(env: Env, tenantId: string, keyId: string): Promise<Result<LoadedKey>> {
  const notFound = err<LoadedKey>(missing(`API key ${keyId} of tenant ${tenantId}`));
  const index = await readJson(env, kvKeys.apiKeyIndex(tenantId, keyId), ApiKeyIndexSchema);
  if (!index.ok) return index;
  if (!index.value) return notFound;
  const read = await readJson(env, kvKeys.apiKeyByHash(index.value.key_hash), ApiKeyRecordSchema);
  if (!read.ok) return read;
  // The record itself must agree: an index entry pointing elsewhere is never trusted.
  if (!read.value || read.value.tenant_id !== tenantId || read.value.id !== keyId) return notFound;
  return ok({ record: read.value, keyHash: index.value.key_hash });
}

export interface LoadedService {
  record: ServiceRecord;
  tokenHash: string;
}

export async function loadService(env: Env, serviceId: string): Promise<Result<LoadedService>> {
  const notFound = err<LoadedService>(missing(`Service ${serviceId}`));
  const index = await readJson(env, kvKeys.serviceIndex(serviceId), ServiceIndexSchema);
  if (!index.ok) return index;
  if (!index.value) return notFound;
  const read = await readJson(env, kvKeys.serviceByHash(index.value.token_hash), ServiceRecordSchema);
  if (!read.ok) return read;
  if (!read.value || read.value.id !== serviceId) return notFound;
  return ok({ record: read.value, tokenHash: index.value.token_hash });
}

/** Applies a PATCH body: absent fields are kept, `null` clears a field, anything else replaces it. */
export function applyPatch<T extends object>(record: T, patch: Record<string, unknown>): { next: T; changed: string[] } {
  const next: Record<string, unknown> = { ...(record as Record<string, unknown>) };
  const changed: string[] = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    changed.push(field);
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return { next: next as T, changed };
}

/** Copies only the defined fields (KV values stay free of `undefined` noise). */
export function definedOnly<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
