// Balance holds: the admissions table (one row per admitted request) and the in-memory open holds.
import type { AdmissionRequest } from "../../src/guard/types";
import { InFlight } from "./in-flight";
import type { Reservation } from "./quotas";

/**
 * An unsettled hold expires this long after admission and is charged its reservation: the gateway settles
 * or releases every hold whose request it saw end, so one still open means the isolate died with the
 * request in flight, at or after its upstream call. A settle arriving later corrects the charge.
 */
export const HOLD_TTL_MS = 600_000;
/** Closed rows stay this long after their hold's expiry, so settle / release / admit retries stay idempotent. */
export const CLOSED_RETENTION_MS = 3_600_000;

/**
 * expired: closed at expiry uncharged, its reservation given back (rows written before 2026-12-02);
 * lapsed: closed at expiry and charged its reservation, which stays counted (what expiry does now).
 */
export const HoldState = { open: 0, settled: 1, released: 2, expired: 3, lapsed: 4 } as const;
export type HoldStateValue = (typeof HoldState)[keyof typeof HoldState];

export interface Hold {
  id: string;
  keyId: string;
  channel: string;
  ip: string | null;
  at: number;
  expiresAt: number;
  state: HoldStateValue;
  estTokens: number;
  estCost: number;
  /** Whether estCost is held against the balance (external channel). */
  charge: boolean;
  reservations: Reservation[];
  /** The model asked for, for the ledger row of an expiry. */
  model: string | null;
  /** What was charged when the hold closed (expired holds: their reservation). */
  cost: number;
}

type AdmissionRow = {
  id: string;
  key_id: string;
  channel: string;
  ip: string | null;
  at: number;
  expires_at: number;
  state: number;
  est_tokens: number;
  est_cost: number;
  charge: number;
  tokens: number;
  cost: number;
  reservations: string;
  model: string | null;
};

const INSERT = `INSERT INTO admissions (id, key_id, channel, ip, at, expires_at, state, est_tokens, est_cost, charge, tokens, cost, reservations, model)
  VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 0, ?, ?)`;
const CLOSE = `UPDATE admissions SET state = ?, tokens = ?, cost = ? WHERE id = ?`;
const FIND = `SELECT * FROM admissions WHERE id = ?`;

/** Open holds live in memory (in admission order, which is expiry order); every row is in SQLite. */
export class HoldBook {
  #sql: SqlStorage;
  readonly open = new Map<string, Hold>();
  /** Sum of estCost over open holds that charge the balance. */
  heldMicros = 0;
  /** Open holds per channel and key: the concurrency slots in use (in-flight.ts). */
  readonly inFlight = new InFlight();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): void {
    this.open.clear();
    this.heldMicros = 0;
    this.inFlight.clear();
    for (const row of this.#sql.exec<AdmissionRow>(`SELECT * FROM admissions WHERE state = 0 ORDER BY expires_at, at`)) {
      this.#track(fromRow(row));
    }
  }

  /** Rows admitted after `since`, oldest first, to rebuild the sliding logs. */
  recent(since: number): { id: string; keyId: string; channel: string; ip: string | null; at: number; tokens: number }[] {
    return this.#sql
      .exec<AdmissionRow>(`SELECT id, key_id, channel, ip, at, tokens FROM admissions WHERE at > ? ORDER BY at`, since)
      .toArray()
      .map((r) => ({ id: r.id, keyId: r.key_id, channel: r.channel, ip: r.ip, at: r.at, tokens: r.tokens }));
  }

  latestAdmission(): number {
    return this.#sql.exec<{ at: number | null }>(`SELECT MAX(at) AS at FROM admissions`).one().at ?? 0;
  }

  find(id: string): Hold | undefined {
    const openHold = this.open.get(id);
    if (openHold !== undefined) return openHold;
    const row = this.#sql.exec<AdmissionRow>(FIND, id).toArray()[0];
    return row === undefined ? undefined : fromRow(row);
  }

  insert(hold: Hold): void {
    this.#sql.exec(INSERT, hold.id, hold.keyId, hold.channel, hold.ip, hold.at, hold.expiresAt, hold.estTokens, hold.estCost, hold.charge ? 1 : 0, hold.estTokens, JSON.stringify(hold.reservations), hold.model);
    this.#track(hold);
  }

  /** Records the final state; `tokens` is what the request keeps counting in the TPM window. */
  close(hold: Hold, state: HoldStateValue, tokens: number, costMicros: number): void {
    this.#sql.exec(CLOSE, state, tokens, costMicros, hold.id);
    if (this.open.delete(hold.id)) {
      if (hold.charge) this.heldMicros -= hold.estCost;
      this.inFlight.remove(hold);
    }
    hold.state = state;
    hold.cost = costMicros;
  }

  /** Open holds whose expiry is at or before `now`, oldest first. */
  due(now: number): Hold[] {
    const out: Hold[] = [];
    for (const hold of this.open.values()) {
      if (hold.expiresAt > now) break;
      out.push(hold);
    }
    return out;
  }

  /** Forgets closed rows nobody will ask about any more. */
  prune(now: number): void {
    this.#sql.exec(`DELETE FROM admissions WHERE at <= ? AND state <> 0`, now - HOLD_TTL_MS - CLOSED_RETENTION_MS);
  }

  /** The admission time of the oldest closed row still kept, if any. */
  oldestClosed(): number | null {
    return this.#sql.exec<{ at: number | null }>(`SELECT MIN(at) AS at FROM admissions WHERE state <> 0`).one().at;
  }

  #track(hold: Hold): void {
    this.open.set(hold.id, hold);
    if (hold.charge) this.heldMicros += hold.estCost;
    this.inFlight.add(hold);
  }
}

/** Whether an admit call describes the same request as the hold (its retry), not another one reusing the id. */
export function isRetryOf(hold: Hold, req: AdmissionRequest): boolean {
  return (
    hold.keyId === req.keyId &&
    hold.channel === req.channel &&
    hold.ip === req.clientIp &&
    hold.estTokens === req.estimate.tokens &&
    hold.estCost === req.estimate.costMicros &&
    hold.charge === req.chargeBalance
  );
}

function fromRow(row: AdmissionRow): Hold {
  return {
    id: row.id,
    keyId: row.key_id,
    channel: row.channel,
    ip: row.ip,
    at: row.at,
    expiresAt: row.expires_at,
    state: row.state as HoldStateValue,
    estTokens: row.est_tokens,
    estCost: row.est_cost,
    charge: row.charge === 1,
    reservations: JSON.parse(row.reservations) as Reservation[],
    model: row.model,
    cost: row.cost,
  };
}
