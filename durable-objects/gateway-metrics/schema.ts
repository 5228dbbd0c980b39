// GatewayMetrics SQLite schema: versioned migrations applied once in blockConcurrencyWhile.
import { applySchema } from "../shared/sqlite-schema";
import { WATCH_SCHEMA } from "./dead-letter-watch";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    // Counter series: `labels` is the encoded label set (src/metrics/exposition.ts encodeLabels).
    `CREATE TABLE series (family TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (family, labels)) WITHOUT ROWID`,
    // Histogram series: per-bucket (not cumulative) counts as a JSON array, the last one above the top bound.
    `CREATE TABLE histograms (
       family TEXT NOT NULL, labels TEXT NOT NULL, buckets TEXT NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
       PRIMARY KEY (family, labels)
     ) WITHOUT ROWID`,
    // Per-tenant numbers by unix minute for the tenant health endpoint; pruned by the alarm.
    `CREATE TABLE tenant_minutes (tenant TEXT NOT NULL, minute INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant, minute)) WITHOUT ROWID`,
    // Batch ids already merged (an isolate resends a batch whose reply it did not see); pruned by the alarm.
    `CREATE TABLE merged_batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE INDEX merged_batches_at ON merged_batches (at)`,
    `CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID`,
  ],
  // v2: dead letters not yet stored in Postgres (dead-letter-watch.ts).
  WATCH_SCHEMA,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the object's database up to the latest schema version (durable-objects/shared/sqlite-schema.ts). */
export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}
