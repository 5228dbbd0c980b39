// The durable outbox: billing and audit events whose queue send failed in the Worker, kept in SQLite
// and sent again from the alarm, with back-off, until a send succeeds. Nothing is ever given up.
import type { OutboxKind, OutboxMessage, OutboxStatus } from "../../src/guard/types";

/** Queues accept at most 100 messages and 256 KB per sendBatch, 128 KB per message. */
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 200_000;
export const MAX_OUTBOX_MESSAGE_BYTES = 120_000;
/** Retry delays double from the first to the cap: 1 s, 2 s, 4 s ... 5 min, for as long as it takes. */
export const OUTBOX_FIRST_RETRY_MS = 1_000;
export const OUTBOX_MAX_RETRY_MS = 300_000;
/** Sent rows stay as tombstones this long, so a late duplicate put is not sent again. */
export const OUTBOX_SENT_RETENTION_MS = 3_600_000;

export type SendBatch = (kind: OutboxKind, bodies: unknown[]) => Promise<void>;

type Row = { kind: OutboxKind; request_id: string; body: string; attempts: number };

export function outboxBackoffMs(attempts: number): number {
  return Math.min(OUTBOX_MAX_RETRY_MS, OUTBOX_FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
}

/** Throws on a message the queue could never take: better refused at put than retried forever. */
export function checkOutboxMessage(kind: unknown, message: unknown): string {
  if (kind !== "billing" && kind !== "audit") throw new TypeError("outbox kind must be billing or audit");
  const id = (message as OutboxMessage | null)?.request_id;
  if (typeof id !== "string" || id.length === 0 || id.length > 256) throw new TypeError("outbox message needs a request_id of 1-256 characters");
  const body = JSON.stringify(message);
  if (body.length > MAX_OUTBOX_MESSAGE_BYTES) throw new TypeError(`outbox message exceeds ${MAX_OUTBOX_MESSAGE_BYTES} bytes`);
  return body;
}

export class Outbox {
  #sql: SqlStorage;
  #draining = false;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Keeps the message once per (kind, request id); due at once. Returns false for a duplicate. */
  put(kind: OutboxKind, requestId: string, body: string, now: number): boolean {
    const cursor = this.#sql.exec(
      `INSERT OR IGNORE INTO outbox (kind, request_id, body, created_at, attempts, next_at, sent_at, last_error) VALUES (?, ?, ?, ?, 0, ?, NULL, NULL)`,
      kind,
      requestId,
      body,
      now,
      now,
    );
    return cursor.rowsWritten > 0;
  }

  /**
   * Sends every due row in batches; a failed batch is retried later with back-off. Rows are read, sent,
   * then marked: a put arriving during the send is a new row or an ignored duplicate, never lost.
   * Returns how many rows were sent.
   */
  async drain(now: number, send: SendBatch, transact: <T>(fn: () => T) => T = (fn) => fn()): Promise<number> {
    if (this.#draining) return 0;
    this.#draining = true;
    let sent = 0;
    try {
      for (const kind of ["billing", "audit"] as const) {
        const due = this.#sql.exec<Row>(`SELECT kind, request_id, body, attempts FROM outbox WHERE sent_at IS NULL AND kind = ? AND next_at <= ? ORDER BY created_at`, kind, now).toArray();
        for (const batch of batches(due)) {
          try {
            await send(kind, batch.map((r) => JSON.parse(r.body) as unknown));
            transact(() => {
              for (const r of batch) this.#sql.exec(`UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE kind = ? AND request_id = ?`, now, kind, r.request_id);
            });
            sent += batch.length;
          } catch (error) {
            const message = String(error).slice(0, 200);
            transact(() => {
              for (const r of batch) {
                this.#sql.exec(`UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE kind = ? AND request_id = ?`, r.attempts + 1, now + outboxBackoffMs(r.attempts + 1), message, kind, r.request_id);
              }
            });
          }
        }
      }
    } finally {
      this.#draining = false;
    }
    return sent;
  }

  /** Forgets tombstones past their retention. */
  prune(now: number): void {
    this.#sql.exec(`DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ?`, now - OUTBOX_SENT_RETENTION_MS);
  }

  /** When the alarm has outbox work next: the first retry due, else the first tombstone to prune. */
  nextDue(): { retryAt: number | null; pruneAt: number | null } {
    const row = this.#sql
      .exec<{ retry: number | null; sent: number | null }>(`SELECT MIN(CASE WHEN sent_at IS NULL THEN next_at END) AS retry, MIN(sent_at) AS sent FROM outbox`)
      .one();
    return { retryAt: row.retry, pruneAt: row.sent === null ? null : row.sent + OUTBOX_SENT_RETENTION_MS };
  }

  status(): OutboxStatus {
    const row = this.#sql
      .exec<{ pending: number; sent: number; next: number | null; attempts: number | null }>(
        `SELECT COUNT(*) FILTER (WHERE sent_at IS NULL) AS pending, COUNT(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
                MIN(CASE WHEN sent_at IS NULL THEN next_at END) AS next, MAX(CASE WHEN sent_at IS NULL THEN attempts END) AS attempts FROM outbox`,
      )
      .one();
    return { pending: row.pending, sent: row.sent, nextAttemptAt: row.next, maxAttempts: row.attempts ?? 0 };
  }
}

function* batches(rows: Row[]): Generator<Row[]> {
  let batch: Row[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (batch.length === BATCH_MESSAGES || (batch.length > 0 && bytes + row.body.length > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(row);
    bytes += row.body.length;
  }
  if (batch.length > 0) yield batch;
}
