// Concurrency slots of upstream targets (a preset item's `max_concurrent_requests`), counted in the
// target's UpstreamHealth object beside its breaker. The slot of the request's first candidate is asked
// for in parallel with the tenant's admit(), so a capped target adds no round trip in series; it is
// released by the completion list (release_target_slot), however the request ends, or expires with the
// isolate. A target whose slots are short for the request's priority class is skipped for the next
// candidate; with none left the request gets 503 `overloaded`. If the object cannot be reached the call
// goes ahead (flagged): a broken counter must not take the upstream down.
import type { GatewayContext } from "../context";
import type { PresetItem } from "../config/schemas";
import { fail, type GatewayFailure } from "../errors";
import type { AdmissionResult } from "../guard/types";
import { upstreamHealthFor } from "../objects";
import type { GatewayCompletion } from "../steps/types";
import { priorityClassOf } from "./priority-classes";
import type { SlotGrant } from "../../durable-objects/upstream-health/types";

/** How long asking for a slot may take (plus the wait of a tenant whose policy queues) before the call goes ahead. */
export const SLOT_TIMEOUT_MS = 1_000;
export const SLOT_FAIL_OPEN_FLAG = "target_slots_fail_open";

const capped = (target: PresetItem | undefined): target is PresetItem & { max_concurrent_requests: number } => target?.max_concurrent_requests !== undefined;

type SlotAnswer = { kind: "granted" } | { kind: "refused"; failure: GatewayFailure } | { kind: "unavailable" };

async function askSlot(ctx: GatewayContext, target: PresetItem & { max_concurrent_requests: number }): Promise<SlotAnswer> {
  const principal = ctx.principal!;
  const policy = principal.concurrency?.policy;
  const queue = policy?.mode === "queue" ? { maxLength: policy.max_queue_length, maxWaitMs: policy.max_wait_ms } : undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), SLOT_TIMEOUT_MS + (queue?.maxWaitMs ?? 0));
  });
  const ask = upstreamHealthFor(ctx.env, target.id).acquireSlot({
    requestId: ctx.requestId,
    tenantId: principal.tenantId,
    weight: principal.concurrency?.weight ?? 1,
    priority: priorityClassOf(principal),
    limit: target.max_concurrent_requests,
    target: target.id,
    ...(queue && { queue }),
  }) as Promise<SlotGrant>;
  try {
    const grant = await Promise.race([ask, timeout]);
    if (grant === undefined) {
      // A late grant is still released by the completion (release is idempotent): remember the target.
      ctx.targetSlot = target.id;
      return { kind: "unavailable" };
    }
    if (grant.granted) {
      ctx.targetSlot = target.id;
      return { kind: "granted" };
    }
    return { kind: "refused", failure: overloaded(target.id, grant.retryAfterMs) };
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "target slots unavailable", target: target.id, trace_id: ctx.traceId, error: String(error) }));
    return { kind: "unavailable" };
  } finally {
    clearTimeout(timer);
  }
}

function overloaded(targetId: string, retryAfterMs: number): GatewayFailure {
  return fail("overloaded", `The upstream for this model is at capacity for this kind of traffic (target ${targetId}); retry shortly.`, {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });
}

/**
 * Finds a candidate with room: the first candidate's slot is asked for at once (in parallel with whatever
 * the caller awaits meanwhile); a refused capped candidate is dropped for the next one (asked in series,
 * only under overload). Undefined: the request may go on; a failure: every candidate is full for its class.
 */
async function claimCandidate(ctx: GatewayContext): Promise<GatewayFailure | undefined> {
  const route = ctx.route!;
  let refusal: GatewayFailure | undefined;
  while (route.candidates.length > 0) {
    const target = route.candidates[0];
    if (!capped(target)) return undefined;
    const answer = await askSlot(ctx, target);
    if (answer.kind === "unavailable") {
      ctx.flags.add(SLOT_FAIL_OPEN_FLAG);
      return undefined;
    }
    if (answer.kind === "granted") return undefined;
    refusal = answer.failure;
    route.candidates = route.candidates.slice(1);
  }
  return refusal;
}

/**
 * The tenant's admission (already started) joined with the target's slot (started here): one result.
 * Nothing to ask when the first candidate has no cap.
 */
export async function withTargetSlot(ctx: GatewayContext, admission: Promise<AdmissionResult | undefined>): Promise<AdmissionResult | undefined> {
  if (!capped(ctx.route?.candidates[0])) return admission;
  const [result, refusal] = await Promise.all([admission, claimCandidate(ctx)]);
  // The tenant's own refusal is the more specific answer; its hold, if any, is released by the completion.
  if (refusal === undefined || !result?.ok) return result;
  return { ok: false, failure: refusal, rateLimit: result.rateLimit };
}

/**
 * For a fallback after the first candidate failed upstream: its slot, asked for in series (the fallback path
 * is already slow). The slot held so far is given back first.
 */
export async function slotForFallback(ctx: GatewayContext, target: PresetItem): Promise<GatewayFailure | undefined> {
  // Its slot was taken with admission, or the slot objects could not be reached then (fail open, once).
  if (!capped(target) || ctx.targetSlot === target.id || ctx.flags.has(SLOT_FAIL_OPEN_FLAG)) return undefined;
  if (ctx.targetSlot !== undefined) releaseInBackground(ctx, ctx.targetSlot);
  ctx.targetSlot = undefined;
  const answer = await askSlot(ctx, target);
  if (answer.kind === "unavailable") ctx.flags.add(SLOT_FAIL_OPEN_FLAG);
  return answer.kind === "refused" ? answer.failure : undefined;
}

function releaseInBackground(ctx: GatewayContext, targetId: string): void {
  ctx.exec.waitUntil(release(ctx, targetId));
}

async function release(ctx: GatewayContext, targetId: string): Promise<void> {
  try {
    await upstreamHealthFor(ctx.env, targetId).releaseSlot(ctx.requestId);
  } catch (error) {
    // The slot expires with its lease (SLOT_TTL_MS): held too long, never lost.
    console.error(JSON.stringify({ level: "error", msg: "target slot release failed", target: targetId, trace_id: ctx.traceId, error: String(error) }));
  }
}

/** Completion task: the target's slot goes back once the request has ended, whichever way. */
export const releaseTargetSlot: GatewayCompletion = {
  name: "release_target_slot",
  when: (ctx) => ctx.targetSlot !== undefined,
  run: (ctx) => release(ctx, ctx.targetSlot!),
};
