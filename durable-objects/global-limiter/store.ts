// GlobalLimiter SQLite storage: a versioned schema and the write-through of one channel's window state.
import { applySchema } from "../shared/sqlite-schema";
import { emptyBucket, type BucketState, type TenantShare } from "../../src/global-limit/fair-share";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE buckets (channel TEXT PRIMARY KEY, window INTEGER NOT NULL, used_requests INTEGER NOT NULL, used_tokens INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE shares (
       channel TEXT NOT NULL, tenant TEXT NOT NULL, weight REAL NOT NULL, window INTEGER NOT NULL,
       used_requests INTEGER NOT NULL, used_tokens INTEGER NOT NULL,
       demand_requests INTEGER NOT NULL, demand_tokens INTEGER NOT NULL,
       prev_requests INTEGER NOT NULL, prev_tokens INTEGER NOT NULL,
       PRIMARY KEY (channel, tenant)
     ) WITHOUT ROWID`,
  ],
];

/** Brings the object's database up to the latest schema version (durable-objects/shared/sqlite-schema.ts). */
export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}

interface BucketRow extends Record<string, SqlStorageValue> {
  channel: string;
  window: number;
  used_requests: number;
  used_tokens: number;
}

interface ShareRow extends Record<string, SqlStorageValue> {
  channel: string;
  tenant: string;
  weight: number;
  window: number;
  used_requests: number;
  used_tokens: number;
  demand_requests: number;
  demand_tokens: number;
  prev_requests: number;
  prev_tokens: number;
}

/** Every channel's bucket, as it was written. */
export function loadBuckets(sql: SqlStorage): Map<string, BucketState> {
  const buckets = new Map<string, BucketState>();
  for (const row of sql.exec<BucketRow>(`SELECT * FROM buckets`)) {
    buckets.set(row.channel, { window: row.window, used: [row.used_requests, row.used_tokens], tenants: new Map() });
  }
  for (const row of sql.exec<ShareRow>(`SELECT * FROM shares`)) {
    let bucket = buckets.get(row.channel);
    if (!bucket) buckets.set(row.channel, (bucket = emptyBucket()));
    bucket.tenants.set(row.tenant, {
      weight: row.weight,
      window: row.window,
      used: [row.used_requests, row.used_tokens],
      demand: [row.demand_requests, row.demand_tokens],
      prevDemand: [row.prev_requests, row.prev_tokens],
    });
  }
  return buckets;
}

export function saveBucket(sql: SqlStorage, channel: string, bucket: BucketState): void {
  sql.exec(
    `INSERT INTO buckets (channel, window, used_requests, used_tokens) VALUES (?, ?, ?, ?)
     ON CONFLICT (channel) DO UPDATE SET window = excluded.window, used_requests = excluded.used_requests, used_tokens = excluded.used_tokens`,
    channel,
    bucket.window,
    bucket.used[0],
    bucket.used[1],
  );
}

export function saveShare(sql: SqlStorage, channel: string, tenant: string, s: TenantShare): void {
  sql.exec(
    `INSERT OR REPLACE INTO shares (channel, tenant, weight, window, used_requests, used_tokens, demand_requests, demand_tokens, prev_requests, prev_tokens)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    channel,
    tenant,
    s.weight,
    s.window,
    s.used[0],
    s.used[1],
    s.demand[0],
    s.demand[1],
    s.prevDemand[0],
    s.prevDemand[1],
  );
}

/** Drops tenants that went inactive when the window rolled to `window`. */
export function dropInactive(sql: SqlStorage, channel: string, window: number): void {
  sql.exec(`DELETE FROM shares WHERE channel = ? AND window < ?`, channel, window - 1);
}
