// The alarm's pruning (nonces, closed rows, idempotency keys, sent outbox rows) and when it must wake next.
import { CLOSED_RETENTION_MS, HOLD_TTL_MS } from "./holds";
import type { GuardState } from "./state";

/** Pruning is batched: the alarm wakes for it at most this often. */
const HOUSEKEEPING_GAP_MS = 60_000;
const MIN_ALARM_GAP_MS = 1_000;

/** Prunes expired nonces and old closed rows; returns how long until the alarm has work again (null: none). Call inside mutate(). */
export function housekeep(s: GuardState, now: number): number | null {
  const nonceDue = s.access.prune(now);
  s.holds.prune(now);
  s.idempotency.prune(now);
  s.outbox.prune(Date.now());
  const oldestClosed = s.holds.oldestClosed();
  const dues: number[] = [];
  const firstHold = s.holds.open.values().next().value;
  if (firstHold !== undefined) dues.push(Math.max(firstHold.expiresAt - now, MIN_ALARM_GAP_MS));
  if (nonceDue !== null) dues.push(Math.max(nonceDue - now, HOUSEKEEPING_GAP_MS));
  if (oldestClosed !== null) dues.push(Math.max(oldestClosed + HOLD_TTL_MS + CLOSED_RETENTION_MS - now, HOUSEKEEPING_GAP_MS));
  const keyExpiry = s.idempotency.nextExpiry();
  if (keyExpiry !== null) dues.push(Math.max(keyExpiry - now, HOUSEKEEPING_GAP_MS));
  const outbox = s.outbox.nextDue();
  if (outbox.retryAt !== null) dues.push(Math.max(outbox.retryAt - Date.now(), MIN_ALARM_GAP_MS));
  if (outbox.pruneAt !== null) dues.push(Math.max(outbox.pruneAt - Date.now(), HOUSEKEEPING_GAP_MS));
  return dues.length === 0 ? null : Math.min(...dues);
}
