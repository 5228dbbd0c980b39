// UpstreamHealth SQLite schema: versioned migrations applied once in blockConcurrencyWhile.

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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the object's database up to SCHEMA_VERSION; a no-op when it already is. */
export function ensureSchema(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)`);
  const row = sql.exec<{ version: number }>(`SELECT version FROM _schema`).toArray()[0];
  let version = row?.version ?? 0;
  if (row === undefined) sql.exec(`INSERT INTO _schema (version) VALUES (0)`);
  if (version >= SCHEMA_VERSION) return;
  storage.transactionSync(() => {
    for (; version < SCHEMA_VERSION; version++) {
      for (const statement of MIGRATIONS[version]!) sql.exec(statement);
    }
    sql.exec(`UPDATE _schema SET version = ?`, version);
  });
}
