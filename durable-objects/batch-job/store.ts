// BatchJob's SQLite storage: one row for the job (its OpenAI fields and where it stands), one row per
// line (where its bytes are, its claim, its result). Migrations are frozen once released: append only.
import { applySchema } from "../shared/sqlite-schema";
import type { BatchInit, BatchLineRef, BatchStatus } from "../../src/batches/types";

const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE job (k INTEGER PRIMARY KEY CHECK (k = 1), value TEXT NOT NULL)`,
    // state: 0 pending, 1 claimed (running under a lease), 2 done (result kept), 3 skipped (cancelled or expired before it ran).
    `CREATE TABLE lines (n INTEGER PRIMARY KEY, line_no INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL, custom_id TEXT NOT NULL,
       state INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL DEFAULT 0, ok INTEGER, result TEXT, r2_key TEXT)`,
    `CREATE INDEX lines_state ON lines (state)`,
  ],
];

export const LineState = { pending: 0, claimed: 1, done: 2, skipped: 3 } as const;

/** Everything the object knows about its batch besides the lines; persisted whole on every change. */
export interface Job extends Pick<BatchInit, "id" | "owner" | "creator" | "channel" | "endpoint" | "inputFileId" | "inputKey" | "metadata"> {
  status: BatchStatus;
  /** Set when a cancel or the expiry stops the batch: no line is claimed any more; running ones finish. */
  stopping: "cancelled" | "expired" | null;
  total: number;
  completed: number;
  failed: number;
  /** Lines [0, enqueued) have had their queue message sent. */
  enqueued: number;
  outputFileId: string | null;
  errorFileId: string | null;
  /** Unix seconds, as OpenAI reports them. */
  times: { created_at: number; in_progress_at: number | null; expires_at: number; finalizing_at: number | null; completed_at: number | null; failed_at: number | null; expired_at: number | null; cancelling_at: number | null; cancelled_at: number | null };
  /** The expiry in ms (alarm precision). */
  expiresAtMs: number;
}

export type LineRow = {
  n: number;
  line_no: number;
  off: number;
  len: number;
  custom_id: string;
  state: number;
  gen: number;
  lease_until: number;
  ok: number | null;
  result: string | null;
  r2_key: string | null;
};

export class JobStore {
  readonly #sql: SqlStorage;
  readonly #storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    applySchema(storage, MIGRATIONS);
    this.#storage = storage;
    this.#sql = storage.sql;
  }

  loadJob(): Job | null {
    const row = this.#sql.exec<{ value: string }>(`SELECT value FROM job WHERE k = 1`).toArray()[0];
    return row ? (JSON.parse(row.value) as Job) : null;
  }

  saveJob(job: Job): void {
    this.#sql.exec(`INSERT INTO job (k, value) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET value = excluded.value`, JSON.stringify(job));
  }

  insertLines(lines: readonly BatchLineRef[]): void {
    lines.forEach((l, n) => this.#sql.exec(`INSERT INTO lines (n, line_no, off, len, custom_id) VALUES (?, ?, ?, ?, ?)`, n, l.lineNo, l.offset, l.length, l.customId));
  }

  line(n: number): LineRow | undefined {
    return this.#sql.exec<LineRow>(`SELECT * FROM lines WHERE n = ?`, n).toArray()[0];
  }

  claim(n: number, gen: number, leaseUntil: number): void {
    this.#sql.exec(`UPDATE lines SET state = ?, gen = ?, lease_until = ? WHERE n = ?`, LineState.claimed, gen, leaseUntil, n);
  }

  release(n: number): void {
    this.#sql.exec(`UPDATE lines SET state = ?, lease_until = 0 WHERE n = ?`, LineState.pending, n);
  }

  finish(n: number, ok: boolean, result: string | null, r2Key: string | null): void {
    this.#sql.exec(`UPDATE lines SET state = ?, ok = ?, result = ?, r2_key = ?, lease_until = 0 WHERE n = ?`, LineState.done, ok ? 1 : 0, result, r2Key, n);
  }

  /** Lines that will never be claimed now (a cancel or the expiry): pending ones, and claimed ones whose consumer died (lease over). */
  skipUnstarted(now: number): void {
    this.#sql.exec(`UPDATE lines SET state = ? WHERE state = ? OR (state = ? AND lease_until <= ?)`, LineState.skipped, LineState.pending, LineState.claimed, now);
  }

  count(state: number): number {
    return this.#sql.exec<{ c: number }>(`SELECT count(*) AS c FROM lines WHERE state = ?`, state).one().c;
  }

  /** The soonest lease to lapse among claimed lines (ms), or null. */
  nextLeaseEnd(): number | null {
    return this.#sql.exec<{ t: number | null }>(`SELECT min(lease_until) AS t FROM lines WHERE state = ?`, LineState.claimed).one().t;
  }

  range(from: number, to: number): number[] {
    return this.#sql.exec<{ n: number }>(`SELECT n FROM lines WHERE n >= ? AND n < ? AND state = ? ORDER BY n`, from, to, LineState.pending).toArray().map((r) => r.n);
  }

  /** Done lines of one outcome in line order, a page at a time (the output and error files). */
  *results(ok: boolean): Generator<Pick<LineRow, "n" | "result" | "r2_key">> {
    let after = -1;
    for (;;) {
      const page = this.#sql.exec<Pick<LineRow, "n" | "result" | "r2_key">>(`SELECT n, result, r2_key FROM lines WHERE state = ? AND ok = ? AND n > ? ORDER BY n LIMIT 500`, LineState.done, ok ? 1 : 0, after).toArray();
      if (page.length === 0) return;
      yield* page;
      after = page.at(-1)!.n;
    }
  }

  transaction<T>(fn: () => T): T {
    return this.#storage.transactionSync(fn);
  }
}
