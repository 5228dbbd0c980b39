// AdminAccess: the one Durable Object ("global") that decides every admin login. It holds the named
// admin tokens (hashed) and the failed-login counters, so a revocation or a lockout applies to the very
// next request in every isolate (no cache in between), and each decision is atomic: 300 concurrent wrong
// guesses from one source cannot slip past the limit. Admin traffic is small, so one object suffices.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { countFailure, GLOBAL_LIMIT, GLOBAL_SUBJECT, lockedFor, NO_FAILURES, SOURCE_LIMIT } from "../src/auth/login-throttle";
import { ADMIN_ROLES, type AdminRole } from "../src/auth/roles";
import { ensureSchema, FailureTable, TokenTable, type StoredAdminToken } from "./admin-access/store";

export type { StoredAdminToken };

export interface LoginAttempt {
  /** loginSource() of the caller's address. */
  source: string;
  /** The worker compared the token with ADMIN_TOKEN (constant time) and it matched. */
  breakGlass: boolean;
  /** SHA-256 (hex) of a well-formed named token; null for anything else. */
  tokenHash: string | null;
  now: number;
}

export type LoginDecision =
  | { ok: true; token: StoredAdminToken | null }
  | {
      ok: false;
      reason: "unauthorized" | "throttled";
      retryAfterMs: number;
      /** This failure started the source's (or the global) lockout. */
      sourceLocked: boolean;
      globalLocked: boolean;
      /** A plain failure while the global ceiling holds: counted, not worth an audit record each. */
      quiet: boolean;
    };

export interface NewAdminToken {
  id: string;
  name: string;
  role: AdminRole;
  tenantId: string | null;
  prefix: string;
  tokenHash: string;
  createdBy: string;
  now: number;
}

/** `last_used_at` is written at most this often per token: a login is not worth a write every time. */
const TOUCH_EVERY_MS = 60_000;
const PRUNE_EVERY_MS = 60 * 60_000;

export class AdminAccess extends DurableObject<Env> {
  #tokens!: TokenTable;
  #failures!: FailureTable;
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#tokens = new TokenTable(ctx.storage.sql);
      this.#failures = new FailureTable(ctx.storage.sql);
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * The lockout is checked before the token: a locked source is refused even with the right token, so a
   * lucky guess is never confirmed. The global ceiling refuses only the break-glass token.
   */
  async authenticate(attempt: LoginAttempt): Promise<LoginDecision> {
    const now = attempt.now;
    const source = this.#failures.get(attempt.source) ?? NO_FAILURES;
    const global = this.#failures.get(GLOBAL_SUBJECT) ?? NO_FAILURES;
    const sourceWait = lockedFor(source, now);
    if (sourceWait > 0) return { ok: false, reason: "throttled", retryAfterMs: sourceWait, sourceLocked: false, globalLocked: false, quiet: true };
    if (attempt.breakGlass) {
      const globalWait = lockedFor(global, now);
      if (globalWait > 0) return { ok: false, reason: "throttled", retryAfterMs: globalWait, sourceLocked: false, globalLocked: false, quiet: true };
      return { ok: true, token: null };
    }
    const token = attempt.tokenHash === null ? null : this.#tokens.activeByHash(attempt.tokenHash);
    if (token) {
      if (token.lastUsedAt === null || now - token.lastUsedAt >= TOUCH_EVERY_MS) this.#tokens.touch(token.id, now);
      return { ok: true, token };
    }
    // A revoked token is no guess (its hash was issued here): refused, but it locks nobody out, so a
    // forgotten script still sending it cannot lock its colleagues' shared address.
    if (attempt.tokenHash !== null && this.#tokens.knownHash(attempt.tokenHash)) {
      return { ok: false, reason: "unauthorized", retryAfterMs: 0, sourceLocked: false, globalLocked: false, quiet: true };
    }
    const bySource = countFailure(source, SOURCE_LIMIT, now);
    const byGlobal = countFailure(global, GLOBAL_LIMIT, now);
    this.ctx.storage.transactionSync(() => {
      this.#failures.put(attempt.source, bySource.next);
      this.#failures.put(GLOBAL_SUBJECT, byGlobal.next);
    });
    await this.#ensureAlarm(now);
    const quiet = lockedFor(global, now) > 0 && !bySource.locked;
    return { ok: false, reason: "unauthorized", retryAfterMs: 0, sourceLocked: bySource.locked, globalLocked: byGlobal.locked, quiet };
  }

  /** For operators and tests: a subject's counter ("*" is the global one). */
  failures(subject: string): { windowStart: number; failures: number; lockedUntil: number } {
    return this.#failures.get(subject) ?? NO_FAILURES;
  }

  /** The sources (and "*", the global ceiling) locked out now. */
  lockouts(now: number): { subject: string; windowStart: number; failures: number; lockedUntil: number }[] {
    return this.#failures.locked(now, 1_000);
  }

  /** Lifts a lockout (the runbook's step once the attack is handled). */
  clearFailures(subject: string): void {
    this.#failures.put(subject, NO_FAILURES);
  }

  createToken(t: NewAdminToken): StoredAdminToken {
    if (!ADMIN_ROLES.includes(t.role)) throw new Error(`unknown admin role ${String(t.role)}`);
    const token: StoredAdminToken = {
      id: t.id,
      name: t.name,
      role: t.role,
      tenantId: t.tenantId,
      prefix: t.prefix,
      status: "active",
      createdBy: t.createdBy,
      createdAt: t.now,
      updatedAt: null,
      rotatedAt: null,
      revokedAt: null,
      lastUsedAt: null,
      version: 1,
    };
    this.#tokens.insert(token, t.tokenHash);
    return token;
  }

  getToken(id: string): StoredAdminToken | null {
    return this.#tokens.byId(id);
  }

  listTokens(limit: number, after?: string): StoredAdminToken[] {
    return this.#tokens.page(Math.max(1, Math.min(100, Math.floor(limit))), after);
  }

  /** A new secret for the same token; the old one stops working at once. Null when unknown or revoked. */
  rotateToken(id: string, tokenHash: string, prefix: string, now: number): StoredAdminToken | null {
    const token = this.#tokens.byId(id);
    if (!token || token.status !== "active") return null;
    this.#tokens.rotate(id, tokenHash, prefix, now);
    return this.#tokens.byId(id);
  }

  /** Final; returns the token as revoked (unchanged if it already was), null when unknown. */
  revokeToken(id: string, now: number): StoredAdminToken | null {
    const token = this.#tokens.byId(id);
    if (!token) return null;
    if (token.status === "active") this.#tokens.revoke(id, now);
    return this.#tokens.byId(id);
  }

  async #ensureAlarm(now: number): Promise<void> {
    if (this.#alarmAt !== null) return;
    this.#alarmAt = now + PRUNE_EVERY_MS;
    await this.ctx.storage.setAlarm(this.#alarmAt);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    const left = this.#failures.prune(now, Math.max(SOURCE_LIMIT.windowMs, GLOBAL_LIMIT.windowMs));
    if (left > 0) await this.#ensureAlarm(now);
  }
}
