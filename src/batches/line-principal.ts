// The principal a batch line runs as: its creator (the tenant's key, or the service), read again from the
// config store (its in-isolate cache) for each line by the credential's SHA-256, as a request's would be, so a key revoked or a tenant banned meanwhile stops the batch's remaining
// lines. Its rate limits and concurrency caps are scaled to the batch share (BATCH_LIMIT_SHARE) and it runs
// in the batch priority class; quotas and the balance are the owner's own, unscaled.
import type { Env } from "../env";
import type { Principal, PrincipalConcurrency } from "../context";
import type { RateLimits } from "../config/schemas";
import { configStore } from "../config/store";
import { err, fail, ok, type Result } from "../errors";
import { keyPrincipal } from "../auth/authenticate-external";
import { servicePrincipal } from "../auth/middleware";
import { BATCH_LIMIT_SHARE } from "../backpressure/priority-classes";
import type { BatchCreator } from "./types";

const scaled = (n: number | undefined) => (n === undefined ? undefined : Math.max(1, Math.floor(n * BATCH_LIMIT_SHARE)));

function scaleLimits(limits: RateLimits | undefined): RateLimits | undefined {
  if (!limits) return undefined;
  return { requests_per_minute: scaled(limits.requests_per_minute), tokens_per_minute: scaled(limits.tokens_per_minute) };
}

function scaleConcurrency(c: PrincipalConcurrency | undefined): PrincipalConcurrency | undefined {
  // A batch line never waits in a concurrency queue: refused, it is retried later from the queue.
  return c && { tenant: scaled(c.tenant), key: scaled(c.key), weight: c.weight };
}

/** The creator's principal as a batch line uses it; a failure (revoked key, banned tenant, store down) is the line's. */
export async function linePrincipal(env: Env, creator: BatchCreator, now = Date.now()): Promise<Result<Principal>> {
  const base = creator.kind === "service" ? await servicePrincipalOf(env, creator) : await keyPrincipalOf(env, creator, now);
  if (!base.ok) return base;
  const p = base.value;
  return ok({
    ...p,
    rateLimits: scaleLimits(p.rateLimits),
    tenantRateLimits: scaleLimits(p.tenantRateLimits),
    // A batch line has no client address: per-IP limits do not apply.
    ipRateLimits: undefined,
    concurrency: scaleConcurrency(p.concurrency),
    priorityClass: "batch",
  });
}

async function servicePrincipalOf(env: Env, creator: BatchCreator): Promise<Result<Principal>> {
  const read = await configStore.serviceByHash(env, creator.credentialHash);
  if (!read.ok) return read;
  const service = read.value;
  if (!service || service.id !== creator.tenantId) return err(fail("invalid_service_token", "The service token that created this batch no longer exists."));
  if (service.status === "revoked") return err(fail("key_revoked", "The service token that created this batch has been revoked."));
  return ok(servicePrincipal(service));
}

async function keyPrincipalOf(env: Env, creator: BatchCreator, now: number): Promise<Result<Principal>> {
  const read = await configStore.apiKeyByHash(env, creator.credentialHash);
  if (!read.ok) return read;
  const key = read.value;
  if (!key || key.id !== creator.keyId || key.tenant_id !== creator.tenantId) return err(fail("invalid_api_key", "The API key that created this batch no longer exists."));
  const tenant = await configStore.tenant(env, creator.tenantId);
  if (!tenant.ok) return tenant;
  if (!tenant.value) return err(fail("invalid_api_key", "The tenant that created this batch no longer exists."));
  if (tenant.value.status === "banned") return err(fail("tenant_banned", "This tenant is banned."));
  if (key.status === "revoked") return err(fail("key_revoked", "The API key that created this batch has been revoked."));
  if (key.expires_at !== undefined && !(Date.parse(key.expires_at) > now)) return err(fail("key_expired", "The API key that created this batch has expired."));
  return ok(keyPrincipal(key, tenant.value));
}
