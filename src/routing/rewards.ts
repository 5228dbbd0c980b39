// Turns a finished request's upstream attempts into bandit observations, reported off the hot path.
// Only calls that reached the upstream count; an answer that blames the request (a 4xx other than
// 408/429) says nothing about the arm and is left out, as for the circuit breaker.
import type { CompletionOutcome, UpstreamAttempt } from "../context";
import type { RoutingPolicy } from "../config/schemas";
import { isBreakerFailure } from "../upstream/breaker";
import { rewardOf, type Observation } from "./arm-stats";

/** Attempts that made no call at all. */
const NOT_CALLED = new Set(["circuit_open", "egress_denied"]);

/**
 * One observation per upstream call, in order. Latency is the attempt's duration: to the response
 * headers for a stream, to the whole body otherwise. A stream that broke after its headers turns
 * its (last) successful attempt into a failure.
 */
export function observationsOf(
  attempts: readonly UpstreamAttempt[],
  ending: CompletionOutcome["ending"],
  policy: Pick<RoutingPolicy, "latency_weight" | "latency_target_ms">,
  at: number = Date.now(),
): Observation[] {
  const out: Observation[] = [];
  for (const attempt of attempts) {
    if (attempt.error !== undefined && NOT_CALLED.has(attempt.error) && attempt.status === undefined) continue;
    const answered = attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300 && attempt.error === undefined;
    if (!answered && !isBreakerFailure({ ok: false, status: attempt.status })) continue;
    out.push({ arm: attempt.target, success: answered, reward: rewardOf(answered, attempt.durationMs, policy), latencyMs: Math.max(0, attempt.durationMs), at });
  }
  const last = out.at(-1);
  if (ending === "upstream_failed" && last?.success) Object.assign(last, { success: false, reward: 0 });
  return out;
}
