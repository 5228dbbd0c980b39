// Versioned SQLite schemas for the Durable Objects: each object lists its migrations (statement
// lists, frozen once released: append, never edit) and calls applySchema in its constructor.

/** Brings the object's database up to `migrations.length`; a no-op when it already is. */
export function applySchema(storage: DurableObjectStorage, migrations: readonly (readonly string[])[]): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)`);
  const row = sql.exec<{ version: number }>(`SELECT version FROM _schema`).toArray()[0];
  let version = row?.version ?? 0;
  if (row === undefined) sql.exec(`INSERT INTO _schema (version) VALUES (0)`);
  if (version >= migrations.length) return;
  storage.transactionSync(() => {
    for (; version < migrations.length; version++) {
      for (const statement of migrations[version]!) sql.exec(statement);
    }
    sql.exec(`UPDATE _schema SET version = ?`, version);
  });
}
