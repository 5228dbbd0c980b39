// BanditStats SQLite storage: a versioned schema, and the write-through of arm states.
import { applySchema } from "../shared/sqlite-schema";
import type { ArmState } from "../../src/routing/arm-stats";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE arms (
       arm TEXT PRIMARY KEY, n REAL NOT NULL, reward REAL NOT NULL, failures REAL NOT NULL, latency_ms REAL NOT NULL,
       consecutive_failures INTEGER NOT NULL, cooldown_until INTEGER NOT NULL, updated_at INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)`,
    `INSERT INTO meta (id, seq) VALUES (1, 0)`,
  ],
];

/** Brings the object's database up to the latest schema version (durable-objects/shared/sqlite-schema.ts). */
export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}

interface ArmRow extends Record<string, SqlStorageValue> {
  arm: string;
  n: number;
  reward: number;
  failures: number;
  latency_ms: number;
  consecutive_failures: number;
  cooldown_until: number;
  updated_at: number;
}

export function loadArms(sql: SqlStorage): { seq: number; arms: Map<string, ArmState> } {
  const arms = new Map<string, ArmState>();
  for (const r of sql.exec<ArmRow>(`SELECT * FROM arms`)) {
    arms.set(r.arm, {
      n: r.n,
      reward: r.reward,
      failures: r.failures,
      latencyMs: r.latency_ms,
      consecutiveFailures: r.consecutive_failures,
      cooldownUntil: r.cooldown_until,
      updatedAt: r.updated_at,
    });
  }
  const seq = sql.exec<{ seq: number }>(`SELECT seq FROM meta WHERE id = 1`).one().seq;
  return { seq, arms };
}

export function saveArm(sql: SqlStorage, arm: string, s: ArmState): void {
  sql.exec(
    `INSERT OR REPLACE INTO arms (arm, n, reward, failures, latency_ms, consecutive_failures, cooldown_until, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    arm,
    s.n,
    s.reward,
    s.failures,
    s.latencyMs,
    s.consecutiveFailures,
    s.cooldownUntil,
    s.updatedAt,
  );
}

export function saveSeq(sql: SqlStorage, seq: number): void {
  sql.exec(`UPDATE meta SET seq = ? WHERE id = 1`, seq);
}

export function deleteArms(sql: SqlStorage, arms: readonly string[] | undefined): void {
  if (arms === undefined) sql.exec(`DELETE FROM arms`);
  else for (const arm of arms) sql.exec(`DELETE FROM arms WHERE arm = ?`, arm);
}
