// UpstreamHealth SQLite schema: versioned migrations applied once in blockConcurrencyWhile.
import { applySchema } from "../shared/sqlite-schema";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    // The one breaker row. phase: closed | open | half_open.
    `CREATE TABLE breaker (
       id INTEGER PRIMARY KEY CHECK (id = 1), target TEXT, phase TEXT NOT NULL, since INTEGER NOT NULL,
       open_until INTEGER, cycle INTEGER NOT NULL, probes_granted INTEGER NOT NULL, probe_lease_until INTEGER,
       version INTEGER NOT NULL, config TEXT
     )`,
    `INSERT INTO breaker (id, phase, since, cycle, probes_granted, version) VALUES (1, 'closed', 0, 0, 0, 0)`,
    // Rolling window of call outcomes in one-second buckets.
    `CREATE TABLE calls (bucket INTEGER PRIMARY KEY, ok INTEGER NOT NULL, failed INTEGER NOT NULL, latency_ms INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE transitions (edge TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID`,
  ],
  [
    // Concurrency slots held on this target (target-slots.ts): one row per request in flight, until released or expired.
    `CREATE TABLE slots (request_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, class TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the object's database up to the latest schema version (durable-objects/shared/sqlite-schema.ts). */
export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}
