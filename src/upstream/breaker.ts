// Circuit breakers on the hot path: an in-isolate cache of each upstream target's UpstreamHealth state,
// so a closed breaker costs no Durable Object round trip before the upstream call.
//
// - Closed (or unknown): the call goes ahead at once. A stale entry (older than BREAKER_CACHE_TTL_MS)
//   is refreshed in the background, and every outcome is reported with waitUntil(record()), whose reply
//   is the breaker's new state. Staleness is bounded, and accepted: after another isolate opens a
//   breaker, this isolate may still send calls for up to the TTL plus one round trip (sooner if one of
//   its own outcomes is recorded in the meantime).
// - Open: skipped with no call at all, until its open period ends.
// - Half-open (or open with its period over): the one case that blocks on the object first, to get one
//   of the few probe permits. Rare by construction; a probe gets one attempt and no retries.
// If the object cannot be reached, calls go ahead: a broken breaker must not take the upstream down.
import type { PresetItem } from "../config/schemas";
import type { Env } from "../env";
import { upstreamHealthFor } from "../objects";
import { fail, type GatewayFailure, type Result } from "../errors";
import { resolveBreakerConfig, type BreakerConfig } from "../../durable-objects/upstream-health/config";
import type { BreakerState } from "../../durable-objects/upstream-health/types";

export type { BreakerConfig, BreakerState };
export { DEFAULT_BREAKER_CONFIG } from "../../durable-objects/upstream-health/config";

export const BREAKER_CACHE_TTL_MS = 1_000;
/** A probe permit that takes longer than this to obtain is not waited for (the call goes ahead). */
export const ACQUIRE_TIMEOUT_MS = 1_000;

interface Entry {
  state: BreakerState;
  fetchedAt: number;
}

const cache = new Map<string, Entry>();
const refreshing = new Set<string>();

export function breakerConfigOf(target: PresetItem): BreakerConfig {
  return resolveBreakerConfig(target.breaker);
}


/** Keeps a reply unless a newer transition is already known (replies may arrive out of order). */
function remember(targetId: string, state: BreakerState, fetchedAt = Date.now()): void {
  const held = cache.get(targetId);
  if (held && held.state.version > state.version) return;
  cache.set(targetId, { state, fetchedAt });
}

export function cachedBreaker(targetId: string): BreakerState | undefined {
  return cache.get(targetId)?.state;
}

/** For tests: forget every cached breaker state in this isolate. */
export function clearBreakerCache(): void {
  cache.clear();
  refreshing.clear();
}

/** Milliseconds this isolate will keep skipping the target without asking, or 0 when it may be called. */
function blockedForMs(targetId: string, now: number): number {
  const entry = cache.get(targetId);
  if (!entry) return 0;
  const { state } = entry;
  if (state.state === "open") return Math.max(0, (state.openUntil ?? 0) - now);
  // Every probe is out: asking again before the entry goes stale would only be refused.
  if (state.state === "half_open" && state.probes.granted >= state.probes.limit) return Math.max(0, entry.fetchedAt + BREAKER_CACHE_TTL_MS - now);
  return 0;
}

/** Whether this isolate knows the target's breaker refuses calls right now (open, or every probe out). */
export function breakerBlocks(targetId: string, now: number = Date.now()): boolean {
  return blockedForMs(targetId, now) > 0;
}

export function circuitOpen(retryAfterMs: number): GatewayFailure {
  return fail("circuit_open", "the upstream for this model is failing; its circuit breaker is open", {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });
}

/** Routing: drops targets known to be open; fails with circuit_open when that leaves none. */
export function withoutOpenTargets(candidates: PresetItem[], now: number = Date.now()): Result<PresetItem[]> {
  const open = candidates.map((c) => blockedForMs(c.id, now));
  const usable = candidates.filter((_, i) => open[i] === 0);
  if (usable.length > 0 || candidates.length === 0) return { ok: true, value: usable };
  return { ok: false, failure: circuitOpen(Math.min(...open)) };
}

export type BreakerGate = { allowed: true; probeCycle?: number } | { allowed: false; retryAfterMs: number };

/** Decides, just before calling the target, whether to call it. Blocks on the object only for a probe permit. */
export async function passBreaker(env: Env, exec: ExecutionContext, target: PresetItem, now: number = Date.now()): Promise<BreakerGate> {
  const entry = cache.get(target.id);
  const stale = !entry || now - entry.fetchedAt >= BREAKER_CACHE_TTL_MS;
  const blocked = blockedForMs(target.id, now);
  if (blocked > 0 || !entry || entry.state.state === "closed") {
    // An open entry is refreshed too, so a manual reset reaches this isolate before the open period ends.
    if (stale) refreshInBackground(env, exec, target.id);
    return blocked > 0 ? { allowed: false, retryAfterMs: blocked } : { allowed: true };
  }
  return acquireProbe(env, target);
}

async function acquireProbe(env: Env, target: PresetItem): Promise<BreakerGate> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ACQUIRE_TIMEOUT_MS);
  });
  try {
    const grant = await Promise.race([upstreamHealthFor(env, target.id).acquireProbe({ target: target.id, config: breakerConfigOf(target) }), timeout]);
    if (!grant) throw new Error(`no answer within ${ACQUIRE_TIMEOUT_MS} ms`);
    remember(target.id, grant.state);
    if (!grant.granted) return { allowed: false, retryAfterMs: Math.max(1, blockedForMs(target.id, Date.now())) };
    return grant.state.state === "half_open" ? { allowed: true, probeCycle: grant.state.cycle } : { allowed: true };
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "breaker unavailable", target: target.id, error: String(error) }));
    return { allowed: true };
  } finally {
    clearTimeout(timer);
  }
}

function refreshInBackground(env: Env, exec: ExecutionContext, targetId: string): void {
  if (refreshing.has(targetId)) return;
  refreshing.add(targetId);
  const started = Date.now();
  exec.waitUntil(
    upstreamHealthFor(env, targetId)
      .state()
      .then(
        (state) => remember(targetId, state, started),
        (error) => console.error(JSON.stringify({ level: "error", msg: "breaker unavailable", target: targetId, error: String(error) })),
      )
      .finally(() => refreshing.delete(targetId)),
  );
}

/**
 * Whether an upstream answer counts against the breaker: no answer, a 5xx, 408, 429, a redirect or a
 * broken body do; a 2xx, or any other 4xx (the upstream answered; the request was at fault), do not.
 */
export function isBreakerFailure(attempt: { ok: boolean; status?: number }): boolean {
  if (attempt.ok) return false;
  const status = attempt.status;
  if (status === undefined || status < 400 || status >= 500) return true;
  return status === 408 || status === 429;
}

/** Plain successes are batched per isolate for this long: one record() per target per interval, not per call. */
export const SUCCESS_BATCH_MS = 1_000;

const pendingSuccesses = new Map<string, { target: PresetItem; count: number; latencyMs: number }>();

function send(env: Env, target: PresetItem, outcome: { ok: boolean; latencyMs: number; probeCycle?: number; count?: number }): Promise<void> {
  const sentAt = Date.now();
  return upstreamHealthFor(env, target.id)
    .record({ ...outcome, target: target.id, config: breakerConfigOf(target) })
    .then(
      (state) => remember(target.id, state, sentAt),
      (error) => console.error(JSON.stringify({ level: "error", msg: "breaker record failed", target: target.id, error: String(error) })),
    );
}

function flushSuccesses(env: Env, targetId: string): Promise<void> {
  const pending = pendingSuccesses.get(targetId);
  if (!pending) return Promise.resolve();
  pendingSuccesses.delete(targetId);
  return send(env, pending.target, { ok: true, latencyMs: pending.latencyMs, count: pending.count });
}

/**
 * Reports a call's outcome without delaying the response; the reply refreshes this isolate's cache.
 * Failures and probe outcomes go at once (they move the breaker); plain successes are summed and sent
 * at most every SUCCESS_BATCH_MS, so a busy target's object sees one write per isolate per second.
 * A failure first flushes the successes before it, so the failure rate is computed on both.
 */
export function reportOutcome(env: Env, exec: ExecutionContext, target: PresetItem, outcome: { ok: boolean; latencyMs: number; probeCycle?: number }): void {
  if (outcome.ok && outcome.probeCycle === undefined) {
    const pending = pendingSuccesses.get(target.id);
    if (pending) {
      pending.count += 1;
      pending.latencyMs += outcome.latencyMs;
      return;
    }
    pendingSuccesses.set(target.id, { target, count: 1, latencyMs: outcome.latencyMs });
    exec.waitUntil(new Promise((resolve) => setTimeout(resolve, SUCCESS_BATCH_MS)).then(() => flushSuccesses(env, target.id)));
    return;
  }
  exec.waitUntil(flushSuccesses(env, target.id).then(() => send(env, target, outcome)));
}

/** Current breaker states straight from the objects (admin API, operations); also refreshes this isolate's cache. */
export async function breakerStates(env: Env, targetIds: readonly string[]): Promise<Record<string, BreakerState>> {
  const states = await Promise.all(targetIds.map((id) => upstreamHealthFor(env, id).state()));
  const out: Record<string, BreakerState> = {};
  targetIds.forEach((id, i) => {
    out[id] = states[i]!;
    remember(id, states[i]!);
  });
  return out;
}
