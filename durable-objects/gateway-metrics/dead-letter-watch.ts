// The dead letters Postgres has not taken yet: the dead-letter consumer reports each one whose store
// failed (and forgets it once stored), so a scrape can say how many wait in the queue and how old the
// oldest is, even while the database is down. An entry the consumer stops reporting without storing
// it expires (it was stored and the forget was lost, or the queue dropped it): the consumer's own
// error log and lost counter cover the second case.
import { encodeLabels, type Sample } from "../../src/metrics/exposition";
import { LIVE } from "../../src/metrics/families";

export interface WatchedDeadLetter {
  /** The dead letter's message id (the first one, kept across requeues). */
  id: string;
  /** When it entered the queues (ms): the age is measured from here. */
  since: number;
  /** Deliveries so far. */
  attempts: number;
  /** Dropped from the watch if not reported again by then (ms). */
  expiresAt: number;
}

export const WATCH_SCHEMA = [
  `CREATE TABLE dead_letter_watch (
     queue TEXT NOT NULL, id TEXT NOT NULL, since INTEGER NOT NULL, attempts INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     PRIMARY KEY (queue, id)
   ) WITHOUT ROWID`,
  `CREATE INDEX dead_letter_watch_expires ON dead_letter_watch (expires_at)`,
];

export class DeadLetterWatch {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Records (or refreshes) dead letters whose store failed. Call inside a transaction. */
  watch(queue: string, letters: readonly WatchedDeadLetter[]): void {
    for (const l of letters) {
      this.#sql.exec(
        `INSERT INTO dead_letter_watch (queue, id, since, attempts, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (queue, id) DO UPDATE SET since = min(since, excluded.since), attempts = excluded.attempts, expires_at = excluded.expires_at`,
        queue,
        l.id,
        l.since,
        l.attempts,
        l.expiresAt,
      );
    }
  }

  /** Dead letters stored (or given up on): no longer waiting. */
  forget(queue: string, ids: readonly string[]): void {
    for (const id of ids) this.#sql.exec(`DELETE FROM dead_letter_watch WHERE queue = ? AND id = ?`, queue, id);
  }

  /** Per queue: how many wait unstored and the oldest one's age; expired entries are left out. */
  gauges(now: number): Sample[] {
    const rows = this.#sql
      .exec<{ queue: string; n: number; since: number }>(
        `SELECT queue, COUNT(*) AS n, MIN(since) AS since FROM dead_letter_watch WHERE expires_at > ? GROUP BY queue ORDER BY queue`,
        now,
      )
      .toArray();
    return rows.flatMap((r) => [
      { family: LIVE.deadLettersUnstored.name, labels: encodeLabels(LIVE.deadLettersUnstored, { queue: r.queue }), value: r.n },
      {
        family: LIVE.deadLetterOldestAge.name,
        labels: encodeLabels(LIVE.deadLetterOldestAge, { queue: r.queue, stage: "unstored" }),
        value: Math.max(0, Math.round((now - r.since) / 1000)),
      },
    ]);
  }

  /** Deletes expired entries; returns them so the object can log what went quiet. */
  prune(now: number): { queue: string; id: string; attempts: number }[] {
    const gone = this.#sql.exec<{ queue: string; id: string; attempts: number }>(`SELECT queue, id, attempts FROM dead_letter_watch WHERE expires_at <= ?`, now).toArray();
    this.#sql.exec(`DELETE FROM dead_letter_watch WHERE expires_at <= ?`, now);
    return gone;
  }

  get size(): number {
    return this.#sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM dead_letter_watch`).one().n;
  }
}
