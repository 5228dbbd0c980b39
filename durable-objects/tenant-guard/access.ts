// Who may pass at all: tenant and key statuses, signature-failure auto-freeze, and the nonce store.
import { fail, type GatewayFailure } from "../../src/errors";
import type { KeyStatus, TenantStatus } from "../../src/guard/types";

/** Twice the 300 s signature tolerance: a nonce outlives every timestamp that could still carry it. */
export const NONCE_TTL_MS = 600_000;
const SIGNATURE_TOLERANCE_MS = 300_000;
/** Signature failures older than this are deleted by the alarm whatever the caller's window. */
export const SIGNATURE_FAILURE_RETENTION_MS = 86_400_000;

const CLAIM_NONCE = `INSERT INTO nonces (value, request_id, expires_at) VALUES (?, ?, ?)
  ON CONFLICT (value) DO UPDATE SET request_id = excluded.request_id, expires_at = excluded.expires_at
  WHERE nonces.expires_at <= ? RETURNING 1 AS claimed`;

export type NonceClaim = "fresh" | "retry" | "replay";

export class AccessBook {
  #sql: SqlStorage;
  #keys = new Map<string, KeyStatus>();
  tenantStatus: TenantStatus = "active";

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): void {
    this.#keys.clear();
    for (const row of this.#sql.exec<{ key_id: string; status: string }>(`SELECT key_id, status FROM keys`)) {
      this.#keys.set(row.key_id, row.status as KeyStatus);
    }
    const tenant = this.#sql.exec<{ value: string }>(`SELECT value FROM meta WHERE name = 'tenant_status'`).one();
    this.tenantStatus = tenant.value as TenantStatus;
  }

  /** Key statuses come first (the more specific answer), then the tenant's. */
  statusFailure(keyId: string): GatewayFailure | undefined {
    const status = this.#keys.get(keyId) ?? "active";
    if (status === "frozen") return fail("key_frozen", "This API key is frozen after repeated signature failures; ask an administrator to unfreeze it.");
    if (status === "revoked") return fail("key_revoked", "This API key has been revoked.");
    if (this.tenantStatus === "banned") return fail("tenant_banned", "This tenant is suspended.");
    return undefined;
  }

  keyStatus(keyId: string): KeyStatus {
    return this.#keys.get(keyId) ?? "active";
  }

  keys(): Record<string, { status: KeyStatus }> {
    return Object.fromEntries([...this.#keys].map(([id, status]) => [id, { status }]));
  }

  setKeyStatus(keyId: string, status: KeyStatus): void {
    this.#sql.exec(`INSERT INTO keys (key_id, status) VALUES (?, ?) ON CONFLICT (key_id) DO UPDATE SET status = excluded.status`, keyId, status);
    // An unfrozen key starts with a clean slate; otherwise the next failure would freeze it again at once.
    if (status === "active") this.#sql.exec(`DELETE FROM signature_failures WHERE key_id = ?`, keyId);
    this.#keys.set(keyId, status);
  }

  setTenantStatus(status: TenantStatus): void {
    this.#sql.exec(`UPDATE meta SET value = ? WHERE name = 'tenant_status'`, status);
    this.tenantStatus = status;
  }

  /** Records one failure and returns how many fall inside the window (this one included). */
  recordSignatureFailure(keyId: string, now: number, windowMs: number): number {
    this.#sql.exec(`DELETE FROM signature_failures WHERE key_id = ? AND at <= ?`, keyId, now - windowMs);
    this.#sql.exec(`INSERT INTO signature_failures (key_id, at) VALUES (?, ?)`, keyId, now);
    return this.#sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM signature_failures WHERE key_id = ? AND at > ?`, keyId, now - windowMs).one().n;
  }

  /**
   * Burns the nonce for this request. A live nonce held by another request id is a replay; held by
   * the same request id it is that request's own retry. `timestampSeconds` is the signed timestamp.
   */
  claimNonce(value: string, timestampSeconds: number, requestId: string, now: number): NonceClaim {
    // Keep it until every timestamp the signature check would still accept has passed, and at least
    // NONCE_TTL_MS; a timestamp far in the future cannot pin a nonce longer than the tolerance allows.
    const signedAt = Number.isFinite(timestampSeconds) ? Math.min(timestampSeconds * 1000, now + SIGNATURE_TOLERANCE_MS) : now;
    const expiresAt = Math.max(now, signedAt) + NONCE_TTL_MS;
    if (this.#sql.exec(CLAIM_NONCE, value, requestId, expiresAt, now).toArray().length > 0) return "fresh";
    return this.nonceHolder(value) === requestId ? "retry" : "replay";
  }

  /** The request id that burnt this nonce, if it is still kept. */
  nonceHolder(value: string): string | undefined {
    return this.#sql.exec<{ request_id: string }>(`SELECT request_id FROM nonces WHERE value = ?`, value).toArray()[0]?.request_id;
  }

  /** Deletes expired nonces and old signature failures; returns the earliest remaining nonce expiry. */
  prune(now: number): number | null {
    this.#sql.exec(`DELETE FROM nonces WHERE expires_at <= ?`, now);
    this.#sql.exec(`DELETE FROM signature_failures WHERE at <= ?`, now - SIGNATURE_FAILURE_RETENTION_MS);
    return this.#sql.exec<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM nonces`).one().at;
  }
}
