// Purge generations: a tenant's and a preset's current generation are part of every cache key, so a
// purge by tenant or preset is one write (a new generation) that makes every older entry unreachable
// in both tiers at once; the orphans expire with their TTL. Each isolate keeps a generation for a few
// seconds (a purge elsewhere takes that long, plus KV's propagation, to be seen); a purge in this
// isolate is seen at once.
import type { Env } from "../env";
import { sharedTierFor } from "./tiers";

const MEMO_MS = 5_000;
const memo = new Map<string, { value: Promise<string>; at: number }>();

export const tenantGeneration = (tenantId: string) => `tenant:${tenantId}`;
export const presetGeneration = (presetId: string) => `preset:${presetId}`;

export function generationOf(env: Env, name: string, now = Date.now()): Promise<string> {
  const known = memo.get(name);
  if (known && now - known.at < MEMO_MS) return known.value;
  if (memo.size > 10_000) memo.clear();
  const value = sharedTierFor(env).generation(name);
  memo.set(name, { value, at: now });
  // A failed read is not kept: the next request asks again.
  value.catch(() => memo.delete(name));
  return value;
}

/** Starts a new generation: every entry keyed with the old one is unreachable from now on. */
export async function bumpGeneration(env: Env, name: string): Promise<string> {
  const value = `${Date.now().toString(36)}-${crypto.randomUUID()}`;
  await sharedTierFor(env).setGeneration(name, value);
  memo.set(name, { value: Promise.resolve(value), at: Date.now() });
  return value;
}
