// What a settlement or an expiry takes from the balance. The balance never goes below zero through a hold:
// a real cost above the reservation takes the rest from the free balance (what no other open hold reserves)
// and no more; the difference is reported as uncollected. Only a request served unheld (the tenant's
// balance policy `open`, the guard unreachable) may take it below zero.
import type { Hold } from "./holds";

export interface Charge {
  /** Taken from the balance by this call (negative: given back). */
  delta: number;
  /** The hold's charge once this call is applied. */
  total: number;
  uncollected: number;
}

/** The part of the balance no open hold reserves (`held` includes this hold's reservation while it is open). */
export function freeBalance(balance: number, held: number): number {
  return Math.max(0, balance - held);
}

/** Settling an open hold: the real cost, up to its reservation plus the free balance. */
export function chargeOpen(hold: Hold, costMicros: number, balance: number, held: number): Charge {
  if (!hold.charge) return { delta: 0, total: 0, uncollected: 0 };
  const ceiling = hold.estCost + freeBalance(balance, held);
  const total = Math.min(costMicros, ceiling);
  return { delta: total, total, uncollected: costMicros - total };
}

/** Settling a hold that expired (charged its reservation) or was released (charged nothing): the charge moves to the real cost. */
export function chargeClosed(hold: Hold, costMicros: number, balance: number, held: number): Charge {
  if (!hold.charge) return { delta: 0, total: 0, uncollected: 0 };
  const wanted = costMicros - hold.cost;
  // A refund is always possible; an extra charge only from the free balance.
  const delta = wanted <= 0 ? wanted : Math.min(wanted, freeBalance(balance, held));
  return { delta, total: hold.cost + delta, uncollected: wanted - delta };
}
