// Metric events outside the request pipeline (queue consumers, billing settlement): each adds to
// this isolate's accumulator. Request-side events schedule a flush with the caller's waitUntil;
// consumer events flush at once (one call per batch), so a batch's invocation is not kept alive
// waiting for the next flush interval.
import type { Env } from "../env";
import { STORED } from "./families";
import { flushMetrics, isolateMetrics, scheduleFlush } from "./flush";

/** Counts dead letters on their arrival (redeliveries after a failed write and requeues are not new). */
export function recordDeadLetters(env: Env, exec: ExecutionContext, queue: string, arrivals: number): void {
  if (arrivals === 0) return;
  isolateMetrics.count(STORED.deadLetters, { queue }, arrivals);
  exec.waitUntil(flushMetrics(env).then(() => undefined));
}

/** Dead letters whose last delivery failed to store them: requeued, or (when even that failed) lost. */
export function recordDeadLetterOutcome(env: Env, exec: ExecutionContext, queue: string, outcome: { requeued: number; lost: number }): void {
  if (outcome.requeued === 0 && outcome.lost === 0) return;
  isolateMetrics.count(STORED.deadLettersRequeued, { queue }, outcome.requeued);
  isolateMetrics.count(STORED.deadLettersLost, { queue }, outcome.lost);
  exec.waitUntil(flushMetrics(env).then(() => undefined));
}

/** A settlement left the tenant's balance below zero. */
export function recordNegativeBalance(env: Env, exec: ExecutionContext): void {
  isolateMetrics.count(STORED.negativeBalances, {});
  scheduleFlush(env, exec);
}

/** Messages the gateway sent to a queue (call after a successful send). */
export function recordQueueSent(env: Env, exec: ExecutionContext, queue: string, count = 1): void {
  isolateMetrics.count(STORED.queueSent, { queue }, count);
  scheduleFlush(env, exec);
}

/** Messages a consumer wrote and acknowledged. */
export function recordQueueAcked(env: Env, exec: ExecutionContext, queue: string, count: number): void {
  isolateMetrics.count(STORED.queueAcked, { queue }, count);
  exec.waitUntil(flushMetrics(env).then(() => undefined));
}
