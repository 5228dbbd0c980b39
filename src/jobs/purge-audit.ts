// Audit retention (the daily cron): audit_log_purge(retention_days, batch) until it returns 0, a
// bounded number of times, so each delete stays a short transaction and one run cannot loop forever.
import { sql, type Kysely } from "kysely";
import { createDb } from "../db/client";
import type { Database } from "../db/schema";
import { settingsOf, type Env } from "../env";

export interface PurgeOptions {
  retentionDays: number;
  /** Rows per audit_log_purge call (one transaction each). */
  batchRows?: number;
  /** Calls per run; what is left waits for the next run. */
  maxBatches?: number;
}

export interface PurgeResult {
  retentionDays: number;
  deleted: number;
  batches: number;
  /** False when the run stopped at maxBatches with old rows possibly left. */
  complete: boolean;
  /** Set when nothing ran: a retention of 0 keeps records forever. */
  skipped?: "retention_disabled";
  ms: number;
}

export const PURGE_BATCH_ROWS = 10_000;
export const PURGE_MAX_BATCHES = 200;

export async function purgeAuditLog(db: Kysely<Database>, options: PurgeOptions): Promise<PurgeResult> {
  const started = Date.now();
  const batchRows = options.batchRows ?? PURGE_BATCH_ROWS;
  const maxBatches = options.maxBatches ?? PURGE_MAX_BATCHES;
  const result: PurgeResult = { retentionDays: options.retentionDays, deleted: 0, batches: 0, complete: false, ms: 0 };
  if (options.retentionDays < 1) {
    result.skipped = "retention_disabled";
    result.complete = true;
  }
  while (!result.complete && result.batches < maxBatches) {
    const row = await sql<{ deleted: number }>`select audit_log_purge(${options.retentionDays}::int, ${batchRows}::int) as deleted`.execute(db);
    const deleted = Number(row.rows[0]?.deleted ?? 0);
    result.batches += 1;
    result.deleted += deleted;
    if (deleted === 0) result.complete = true;
  }
  result.ms = Date.now() - started;
  return result;
}

/** The cron entry: retention from AUDIT_LOG_RETENTION_DAYS, one JSON log line with the count. */
export async function runAuditPurge(env: Env, options: Partial<PurgeOptions> = {}): Promise<PurgeResult> {
  const retentionDays = options.retentionDays ?? settingsOf(env).auditLogRetentionDays;
  const handle = createDb(env, { max: 1 });
  try {
    const result = await purgeAuditLog(handle.db, { ...options, retentionDays });
    console.log(
      JSON.stringify({
        level: result.complete ? "info" : "warn",
        msg: "audit purge",
        retention_days: result.retentionDays,
        deleted: result.deleted,
        batches: result.batches,
        complete: result.complete,
        skipped: result.skipped,
        ms: result.ms,
      }),
    );
    return result;
  } finally {
    await handle.dispose();
  }
}
