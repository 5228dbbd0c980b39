// How a hold ends: settled with the real usage, released uncharged, or lapsed at expiry (charged its
// reservation, its events through the outbox). Each is one transaction against GuardState.
import type { ReleaseResult, SettleResult, Settlement } from "../../src/guard/types";
import { expiryAudit, expiryBilling } from "./expiry-events";
import { HoldState, type Hold, type HoldStateValue } from "./holds";
import { actualAmount } from "./quotas";
import { chargeClosed, chargeOpen } from "./settlement";
import type { GuardState } from "./state";

/**
 * Replaces the hold's estimate by the real usage and charges it: up to the reservation plus the free balance,
 * never below zero (settlement.ts). A settle after expiry corrects what the expiry charged; after a release
 * it still charges (the tokens were used). A request served unheld is charged once, even below zero.
 */
export function settleHold(s: GuardState, st: Settlement): SettleResult {
  const hold = s.holds.find(st.holdId);
  if (hold === undefined) return st.unheld ? settleUnheld(s, st) : { balanceMicros: s.balance, alreadySettled: false, unknownHold: true, chargedMicros: 0 };
  if (hold.state === HoldState.settled) return { balanceMicros: s.balance, alreadySettled: true, chargedMicros: hold.cost };
  const wasOpen = hold.state === HoldState.open;
  const wasCharged = hold.state === HoldState.lapsed;
  const charge = wasOpen ? chargeOpen(hold, st.costMicros, s.balance, s.holds.heldMicros) : chargeClosed(hold, st.costMicros, s.balance, s.holds.heldMicros);
  s.mutate(() => {
    // An open or charged-at-expiry hold still counts its reservation in the quotas; a released one gave it back.
    const counted = wasOpen || wasCharged;
    for (const r of hold.reservations) s.quotas.adjust(r, actualAmount(r.t, st.tokens, st.costMicros) - (counted ? r.n : 0));
    s.holds.close(hold, HoldState.settled, st.tokens, charge.total);
    if (charge.delta !== 0) s.setBalance(s.balance - charge.delta);
  });
  s.windows.setTokens(hold.id, st.tokens);
  const result: SettleResult = { balanceMicros: s.balance, alreadySettled: false, chargedMicros: charge.total };
  if (charge.uncollected > 0) result.uncollectedMicros = charge.uncollected;
  if (wasCharged) result.correctionMicros = charge.delta;
  return result;
}

/** A request served with no hold (guard unreachable, balance policy open): charged once per request id, even below zero. */
function settleUnheld(s: GuardState, st: Settlement): SettleResult {
  const unheld = st.unheld!;
  const now = s.latest();
  const hold: Hold = {
    id: st.holdId,
    keyId: unheld.keyId,
    channel: unheld.channel,
    ip: null,
    at: now,
    expiresAt: now,
    state: HoldState.open,
    estTokens: st.tokens,
    estCost: 0,
    charge: unheld.channel === "external",
    reservations: [],
    model: null,
    cost: 0,
  };
  const charge = hold.charge ? st.costMicros : 0;
  s.mutate(() => {
    s.holds.insert(hold);
    s.holds.close(hold, HoldState.settled, st.tokens, charge);
    if (charge !== 0) s.setBalance(s.balance - charge);
  });
  return { balanceMicros: s.balance, alreadySettled: false, chargedMicros: charge };
}

/** Frees a hold with no charge (upstream failed before any byte). The request still counts in RPM. */
export function releaseHold(s: GuardState, holdId: string): ReleaseResult {
  const hold = s.holds.open.get(holdId);
  if (hold === undefined) return { released: false, balanceMicros: s.balance };
  closeUncharged(s, hold, HoldState.released);
  return { released: true, balanceMicros: s.balance };
}

function closeUncharged(s: GuardState, hold: Hold, state: HoldStateValue): void {
  s.mutate(() => {
    s.holds.close(hold, state, 0, 0);
    for (const r of hold.reservations) s.quotas.adjust(r, -r.n);
    s.idempotency.freeHold(hold.id);
  });
  s.windows.setTokens(hold.id, 0);
}

/** Expires the holds due; returns how many (their events wait in the outbox for the alarm). */
export function expireDue(s: GuardState, now: number): number {
  const due = s.holds.due(now);
  for (const hold of due) expireHold(s, hold, now);
  return due.length;
}

/**
 * An open hold at its expiry: its request's isolate died with it in flight (the gateway settles or releases
 * every hold whose request it saw end), so it is charged its reservation, which stays counted in the quotas,
 * and its ledger and audit rows go out through the outbox, flagged hold_expired. A later settle corrects it.
 */
export function expireHold(s: GuardState, hold: Hold, now: number): void {
  const tenantId = s.tenantId;
  s.mutate(() => {
    const charge = hold.charge ? hold.estCost : 0;
    s.holds.close(hold, HoldState.lapsed, hold.estTokens, charge);
    if (charge !== 0) s.setBalance(s.balance - charge);
    s.idempotency.freeHold(hold.id);
    s.outbox.put("billing", hold.id, JSON.stringify({ ...expiryBilling(tenantId, hold, now), amount_micros: -charge }), Date.now());
    s.outbox.put("audit", hold.id, JSON.stringify(expiryAudit(tenantId, hold, now)), Date.now());
  });
}
