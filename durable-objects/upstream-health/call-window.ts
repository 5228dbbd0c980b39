// The rolling window of call outcomes: one-second buckets kept in memory and mirrored to SQLite.

export const BUCKET_MS = 1_000;

interface Bucket {
  ok: number;
  failed: number;
  latencyMs: number;
}

export interface WindowTotals {
  calls: number;
  failures: number;
  failureRate: number;
  avgLatencyMs: number | null;
}

/** Buckets whose second lies within (now - windowMs, now] count; the window is thus exact to one second. */
const firstBucket = (now: number, windowMs: number) => Math.floor((now - windowMs) / BUCKET_MS) + 1;

export class CallWindow {
  readonly #sql: SqlStorage;
  readonly #buckets = new Map<number, Bucket>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    for (const row of sql.exec<{ bucket: number; ok: number; failed: number; latency_ms: number }>(`SELECT * FROM calls`)) {
      this.#buckets.set(row.bucket, { ok: row.ok, failed: row.failed, latencyMs: row.latency_ms });
    }
  }

  add(now: number, ok: boolean, latencyMs: number, windowMs: number, count = 1): void {
    const key = Math.floor(now / BUCKET_MS);
    if (!this.#buckets.has(key)) this.#prune(now, windowMs);
    const bucket = this.#buckets.get(key) ?? { ok: 0, failed: 0, latencyMs: 0 };
    if (ok) bucket.ok += count;
    else bucket.failed += count;
    bucket.latencyMs += Math.max(0, Math.round(latencyMs));
    this.#buckets.set(key, bucket);
    this.#sql.exec(
      `INSERT INTO calls (bucket, ok, failed, latency_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (bucket) DO UPDATE SET ok = excluded.ok, failed = excluded.failed, latency_ms = excluded.latency_ms`,
      key,
      bucket.ok,
      bucket.failed,
      bucket.latencyMs,
    );
  }

  totals(now: number, windowMs: number): WindowTotals {
    const from = firstBucket(now, windowMs);
    const to = Math.floor(now / BUCKET_MS);
    let ok = 0;
    let failed = 0;
    let latency = 0;
    for (const [key, b] of this.#buckets) {
      if (key < from || key > to) continue;
      ok += b.ok;
      failed += b.failed;
      latency += b.latencyMs;
    }
    const calls = ok + failed;
    return { calls, failures: failed, failureRate: calls === 0 ? 0 : failed / calls, avgLatencyMs: calls === 0 ? null : Math.round(latency / calls) };
  }

  /** A breaker that opens or closes starts counting afresh. */
  clear(): void {
    this.#buckets.clear();
    this.#sql.exec(`DELETE FROM calls`);
  }

  #prune(now: number, windowMs: number): void {
    const from = firstBucket(now, windowMs);
    let stale = false;
    for (const key of this.#buckets.keys()) {
      if (key < from) {
        this.#buckets.delete(key);
        stale = true;
      }
    }
    if (stale) this.#sql.exec(`DELETE FROM calls WHERE bucket < ?`, from);
  }
}
