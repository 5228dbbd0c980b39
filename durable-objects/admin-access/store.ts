// AdminAccess SQLite storage: a versioned schema, the named admin tokens (by SHA-256 of the secret,
// never the secret) and the failed-login counters.
import { applySchema } from "../shared/sqlite-schema";
import type { AdminRole } from "../../src/auth/roles";
import type { FailureCounter } from "../../src/auth/login-throttle";

/** Each entry moves the schema one version up; entries are frozen once released (append, never edit). */
const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE tokens (
       id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, tenant_id TEXT, token_hash TEXT NOT NULL UNIQUE,
       prefix TEXT NOT NULL, status TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,
       updated_at INTEGER, rotated_at INTEGER, revoked_at INTEGER, last_used_at INTEGER, version INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE login_failures (subject TEXT PRIMARY KEY, window_start INTEGER NOT NULL, failures INTEGER NOT NULL, locked_until INTEGER NOT NULL) WITHOUT ROWID`,
  ],
];

export function ensureSchema(storage: DurableObjectStorage): void {
  applySchema(storage, MIGRATIONS);
}

/** A named admin token as stored (times in epoch ms). */
export interface StoredAdminToken {
  id: string;
  name: string;
  role: AdminRole;
  tenantId: string | null;
  prefix: string;
  status: "active" | "revoked";
  createdBy: string;
  createdAt: number;
  updatedAt: number | null;
  rotatedAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  version: number;
}

interface TokenRow extends Record<string, SqlStorageValue> {
  id: string;
  name: string;
  role: string;
  tenant_id: string | null;
  prefix: string;
  status: string;
  created_by: string;
  created_at: number;
  updated_at: number | null;
  rotated_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  version: number;
}

const COLUMNS = "id, name, role, tenant_id, prefix, status, created_by, created_at, updated_at, rotated_at, revoked_at, last_used_at, version";

function fromRow(r: TokenRow): StoredAdminToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role as AdminRole,
    tenantId: r.tenant_id,
    prefix: r.prefix,
    status: r.status === "active" ? "active" : "revoked",
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    rotatedAt: r.rotated_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    version: r.version,
  };
}

export class TokenTable {
  constructor(private readonly sql: SqlStorage) {}

  byId(id: string): StoredAdminToken | null {
    const row = this.sql.exec<TokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`, id).toArray()[0];
    return row ? fromRow(row) : null;
  }

  activeByHash(tokenHash: string): StoredAdminToken | null {
    const row = this.sql.exec<TokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = ? AND status = 'active'`, tokenHash).toArray()[0];
    return row ? fromRow(row) : null;
  }

  knownHash(tokenHash: string): boolean {
    return this.sql.exec(`SELECT 1 FROM tokens WHERE token_hash = ?`, tokenHash).toArray().length > 0;
  }

  /** Tokens in id order after `after` (exclusive). */
  page(limit: number, after: string | undefined): StoredAdminToken[] {
    return this.sql.exec<TokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE id > ? ORDER BY id LIMIT ?`, after ?? "", limit).toArray().map(fromRow);
  }

  insert(t: StoredAdminToken, tokenHash: string): void {
    this.sql.exec(
      `INSERT INTO tokens (id, name, role, tenant_id, token_hash, prefix, status, created_by, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      t.id,
      t.name,
      t.role,
      t.tenantId,
      tokenHash,
      t.prefix,
      t.status,
      t.createdBy,
      t.createdAt,
      t.version,
    );
  }

  rotate(id: string, tokenHash: string, prefix: string, now: number): void {
    this.sql.exec(`UPDATE tokens SET token_hash = ?, prefix = ?, rotated_at = ?, updated_at = ?, version = version + 1 WHERE id = ?`, tokenHash, prefix, now, now, id);
  }

  revoke(id: string, now: number): void {
    this.sql.exec(`UPDATE tokens SET status = 'revoked', revoked_at = ?, updated_at = ?, version = version + 1 WHERE id = ?`, now, now, id);
  }

  touch(id: string, now: number): void {
    this.sql.exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, now, id);
  }
}

interface FailureRow extends Record<string, SqlStorageValue> {
  window_start: number;
  failures: number;
  locked_until: number;
}

export class FailureTable {
  constructor(private readonly sql: SqlStorage) {}

  get(subject: string): FailureCounter | null {
    const row = this.sql.exec<FailureRow>(`SELECT window_start, failures, locked_until FROM login_failures WHERE subject = ?`, subject).toArray()[0];
    return row ? { windowStart: row.window_start, failures: row.failures, lockedUntil: row.locked_until } : null;
  }

  put(subject: string, c: FailureCounter): void {
    this.sql.exec(`INSERT OR REPLACE INTO login_failures (subject, window_start, failures, locked_until) VALUES (?, ?, ?, ?)`, subject, c.windowStart, c.failures, c.lockedUntil);
  }

  /** Counters still locked at `now`, soonest end first. */
  locked(now: number, limit: number): (FailureCounter & { subject: string })[] {
    return this.sql
      .exec<FailureRow & { subject: string }>(`SELECT subject, window_start, failures, locked_until FROM login_failures WHERE locked_until > ? ORDER BY locked_until LIMIT ?`, now, limit)
      .toArray()
      .map((r) => ({ subject: r.subject, windowStart: r.window_start, failures: r.failures, lockedUntil: r.locked_until }));
  }

  /** Drops counters whose window and lockout both ended before `before`; returns how many are left. */
  prune(before: number, windowMs: number): number {
    this.sql.exec(`DELETE FROM login_failures WHERE locked_until <= ? AND window_start + ? <= ?`, before, windowMs, before);
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM login_failures`).one().n;
  }
}
