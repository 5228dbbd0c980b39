// Gray release on the hot path: which presets version (routing, bandit parameters, prices) is in force
// for a tenant. The live document names the stable version and at most one candidate being rolled out
// to listed tenants and/or a percentage of tenants chosen by a stable hash of the tenant id. Both reads
// go through the in-isolate config cache, so no request pays a KV read once the cache is warm.
import { configStore } from "../config/store";
import type { Env } from "../env";
import type { PresetsDocument, Rollout } from "../config/schemas";
import { err, ok, type Result } from "../errors";

/** Rollout resolution: basis points (0.01 %). */
export const ROLLOUT_BUCKETS = 10_000;

export const CANDIDATE_UNAVAILABLE_FLAG = "config_candidate_unavailable";

/** 32-bit FNV-1a over the UTF-8 bytes, then the murmur3 finalizer (FNV alone mixes the low bits poorly). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The tenant's bucket (0..9999) for one version's rollout. Salted with the version, so each rollout
 * picks its own tenants; stable for a version, so raising the percentage only ever adds tenants.
 */
export function rolloutBucket(tenantId: string, version: number): number {
  return hash32(`presets-v${version}:${tenantId}`) % ROLLOUT_BUCKETS;
}

export function inRollout(rollout: Pick<Rollout, "version" | "tenants" | "percent">, tenantId: string): boolean {
  if (rollout.tenants.includes(tenantId)) return true;
  return rolloutBucket(tenantId, rollout.version) < Math.round(rollout.percent * 100);
}

/** Whether the candidate applies to this tenant at `now` (listed or hashed in, and past its effective time). */
export function candidateApplies(rollout: Rollout | undefined, tenantId: string | undefined, now: number): rollout is Rollout {
  if (!rollout || tenantId === undefined) return false;
  if (rollout.effective_at !== undefined && Date.parse(rollout.effective_at) > now) return false;
  return inRollout(rollout, tenantId);
}

export interface ResolvedPresets {
  document: PresetsDocument;
  /** The version in force for this request: audit config_version and ledger price_version. */
  version: number;
  candidate: boolean;
  /** Set when the tenant's candidate version could not be read and the stable one was used. */
  flag?: string;
}

/** The presets in force for the tenant; null before any presets exist. A KV failure is a value (config_unavailable). */
export async function resolvePresets(env: Env, tenantId: string | undefined, now: number = Date.now()): Promise<Result<ResolvedPresets | null>> {
  const live = await configStore.presets(env);
  if (!live.ok) return err(live.failure);
  if (live.value === null) return ok(null);
  const stable: ResolvedPresets = { document: live.value, version: live.value.version, candidate: false };
  const rollout = live.value.release?.candidate;
  if (!candidateApplies(rollout, tenantId, now)) return ok(stable);
  const staged = await configStore.presetsVersion(env, rollout.version);
  // The stable version keeps serving (and bills at its own prices) rather than failing the request.
  if (!staged.ok || staged.value === null) return ok({ ...stable, flag: CANDIDATE_UNAVAILABLE_FLAG });
  return ok({ document: staged.value, version: rollout.version, candidate: true });
}
