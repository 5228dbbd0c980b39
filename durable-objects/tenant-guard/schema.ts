// TenantGuard SQLite schema: versioned migrations applied once in blockConcurrencyWhile.
import { applySchema } from "../shared/sqlite-schema";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID`,
    `INSERT INTO meta (name, value) VALUES ('balance', 0), ('tenant_status', 'active')`,
    // One row per admitted request: the hold, the idempotency record of admit, and the sliding-log entry.
    // state: 0 open, 1 settled, 2 released, 3 expired.
    `CREATE TABLE admissions (
       id TEXT PRIMARY KEY, key_id TEXT NOT NULL, channel TEXT NOT NULL, ip TEXT,
       at INTEGER NOT NULL, expires_at INTEGER NOT NULL, state INTEGER NOT NULL,
       est_tokens INTEGER NOT NULL, est_cost INTEGER NOT NULL, charge INTEGER NOT NULL,
       tokens INTEGER NOT NULL, cost INTEGER NOT NULL, reservations TEXT NOT NULL
     ) WITHOUT ROWID`,
    `CREATE INDEX admissions_at ON admissions (at)`,
    `CREATE INDEX admissions_open ON admissions (expires_at) WHERE state = 0`,
    `CREATE TABLE nonces (value TEXT PRIMARY KEY, request_id TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE INDEX nonces_expiry ON nonces (expires_at)`,
    `CREATE TABLE keys (key_id TEXT PRIMARY KEY, status TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE signature_failures (key_id TEXT NOT NULL, at INTEGER NOT NULL)`,
    `CREATE INDEX signature_failures_key ON signature_failures (key_id, at)`,
    `CREATE TABLE quota_counters (
       rule_id TEXT NOT NULL, subject TEXT NOT NULL, type TEXT NOT NULL, period TEXT NOT NULL,
       time_zone TEXT NOT NULL, period_start INTEGER NOT NULL, used INTEGER NOT NULL, limit_value INTEGER NOT NULL,
       PRIMARY KEY (rule_id, subject)
     ) WITHOUT ROWID`,
    `CREATE TABLE credits (idempotency_key TEXT PRIMARY KEY, amount INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
  ],
  [
    // Client Idempotency-Keys (idempotency.ts). state: 0 in flight, 1 completed (body kept), 2 completed, too large to keep.
    // A rowid table: rows carry bodies up to 1 MiB, which WITHOUT ROWID tables store poorly.
    `CREATE TABLE idempotency (
       key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, hold_id TEXT NOT NULL, state INTEGER NOT NULL,
       created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, inflight_until INTEGER NOT NULL,
       status INTEGER, headers TEXT, body BLOB, stream INTEGER NOT NULL, body_bytes INTEGER NOT NULL
     )`,
    `CREATE INDEX idempotency_expiry ON idempotency (expires_at)`,
    `CREATE INDEX idempotency_hold ON idempotency (hold_id) WHERE state = 0`,
    // Billing and audit events whose queue send failed (outbox.ts); sent_at set = a tombstone kept briefly.
    `CREATE TABLE outbox (
       kind TEXT NOT NULL, request_id TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
       attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT,
       PRIMARY KEY (kind, request_id)
     )`,
    `CREATE INDEX outbox_due ON outbox (next_at) WHERE sent_at IS NULL`,
    `CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL`,
  ],
  [
    // What the gateway asked for (written into the ledger row of a hold that expires unsettled).
    `ALTER TABLE admissions ADD COLUMN model TEXT`,
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the object's database up to the latest schema version (durable-objects/shared/sqlite-schema.ts). */
export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}
