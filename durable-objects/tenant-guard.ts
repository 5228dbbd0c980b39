// TenantGuard: one Durable Object per tenant holding its limits, quotas, nonces, balance holds, freezes,
// client Idempotency-Keys and the outbox of billing / audit events whose queue send failed.
//
// Every RPC method runs synchronously against SQLite plus in-memory caches loaded in the constructor, so
// each call is atomic: no other call interleaves between a read and the write that depends on it. Writes
// of one decision go in one transaction; the only awaits are alarm scheduling, after the state changed,
// and the alarm's outbox sends (outbox.ts reads, sends, then marks, so nothing depends on a stale read).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { fail, type GatewayFailure } from "../src/errors";
import type {
  AccessCheck,
  AccessResult,
  AdmissionRequest,
  AdmissionResult,
  CreditResult,
  GuardSnapshot,
  IdempotencyFinish,
  KeyStatus,
  OutboxKind,
  OutboxPutResult,
  OutboxStatus,
  RateLimitSnapshot,
  ReleaseResult,
  SettleResult,
  Settlement,
  SignatureFailureOptions,
  SignatureFailureResult,
  TenantStatus,
} from "../src/guard/types";
import { AccessBook, NONCE_TTL_MS } from "./tenant-guard/access";
import { CLOSED_RETENTION_MS, HOLD_TTL_MS, HoldBook, HoldState, isRetryOf, type Hold, type HoldStateValue } from "./tenant-guard/holds";
import { IdempotencyBook, isIdempotencyAnswer } from "./tenant-guard/idempotency";
import { Outbox, OUTBOX_FIRST_RETRY_MS, checkOutboxMessage } from "./tenant-guard/outbox";
import { QuotaBook, actualAmount } from "./tenant-guard/quotas";
import { RateWindows, WINDOW_MS, levelsOf, type Level } from "./tenant-guard/rate-windows";
import { ensureSchema } from "./tenant-guard/schema";
import { checkAdmission, checkCredit, checkIdempotencyFinish, checkSettlement } from "./tenant-guard/validate";
import { chargeClosed, chargeOpen } from "./tenant-guard/settlement";
import { expiryAudit, expiryBilling } from "./tenant-guard/expiry-events";

export { HOLD_TTL_MS, NONCE_TTL_MS };

/** Rejections are remembered briefly so a retried admit gets the same answer (they changed no counter). */
const REJECTION_MEMORY = 1024;
const REJECTION_TTL_MS = 60_000;
/** Pruning (nonces, closed rows) is batched: the alarm wakes for it at most this often. */
const HOUSEKEEPING_GAP_MS = 60_000;
const MIN_ALARM_GAP_MS = 1_000;
/** The alarm re-arms itself this far ahead before working, so a crash mid-run is retried. */
const ALARM_RETRY_MS = 30_000;

export class TenantGuard extends DurableObject<Env> {
  #sql: SqlStorage;
  /** Milliseconds; never goes backwards, so the sliding logs stay time-ordered whatever clocks callers pass. */
  #clock = 0;
  #balance = 0;
  #access: AccessBook;
  #quotas: QuotaBook;
  #holds: HoldBook;
  #idempotency: IdempotencyBook;
  #outbox: Outbox;
  #windows = new RateWindows();
  #rejections = new Map<string, { result: AdmissionResult; at: number }>();
  #name: string | undefined;
  #alarmAt: number | null = null;
  #failNextAlarms = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#access = new AccessBook(this.#sql);
    this.#quotas = new QuotaBook(this.#sql);
    this.#holds = new HoldBook(this.#sql);
    this.#idempotency = new IdempotencyBook(this.#sql);
    this.#outbox = new Outbox(this.#sql);
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#name = this.#rememberName(ctx.id.name);
      this.#load();
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** One call before the upstream request: status, nonce, rate limits, quotas and balance, all or nothing. */
  async admit(req: AdmissionRequest): Promise<AdmissionResult> {
    checkAdmission(req);
    const now = this.#tick(req.now);
    const expired = this.#expireDue(now);
    const result = this.#admission(req, now);
    // Alarms after the decision (nothing awaits between a read and the write that depends on it): the
    // expired holds' events wait in the outbox, a new hold expires, a nonce must be pruned.
    if (expired > 0) await this.#ensureAlarm(OUTBOX_FIRST_RETRY_MS);
    if (result.ok && !result.replayed) await this.#ensureAlarm(HOLD_TTL_MS);
    else if (!result.ok && req.nonce !== undefined) await this.#ensureAlarm(NONCE_TTL_MS);
    return result;
  }

  #admission(req: AdmissionRequest, now: number): AdmissionResult {
    this.#windows.prune(now);
    const levels = levelsOf(req.channel, req.keyId, req.clientIp, req.limits);
    const prior = this.#holds.find(req.requestId);
    if (prior !== undefined) {
      const snapshot = this.#windows.snapshot(levels, now, 0, 0);
      // A genuine retry can only arrive while its hold is open (nobody settles a hold it never heard of).
      // Anything else reusing the id is another request, and must not ride on the first one's hold.
      const sameNonce = req.nonce === undefined || this.#access.nonceHolder(req.nonce.value) === req.requestId;
      if (prior.state === HoldState.open && sameNonce && isRetryOf(prior, req)) return this.#admitted(prior, snapshot, true);
      return { ok: false, failure: fail("idempotency_key_conflict", "This request id was already used by another request."), rateLimit: snapshot };
    }
    const remembered = this.#rejections.get(req.requestId);
    if (remembered !== undefined && now - remembered.at < REJECTION_TTL_MS) return remembered.result;
    const result = this.#decide(req, levels, now);
    // Idempotency-Key answers follow the key's state (in use now, replayable later): never remembered.
    if (!result.ok && !isIdempotencyAnswer(result)) this.#remember(req.requestId, result, now);
    return result;
  }

  /**
   * For read-only routes (models, audit, usage, tenant health): the key and tenant status and, for a signed
   * request, its nonce — the same checks admit() makes, with no limits, hold or charge.
   */
  async checkAccess(req: AccessCheck): Promise<AccessResult> {
    const now = this.#tick(req.now);
    const statusFailure = this.#access.statusFailure(req.keyId);
    if (statusFailure !== undefined) return { ok: false, failure: statusFailure };
    if (req.nonce === undefined) return { ok: true };
    const nonce = req.nonce;
    const claim = this.#mutate(() => this.#access.claimNonce(nonce.value, nonce.timestamp, req.requestId, now));
    await this.#ensureAlarm(NONCE_TTL_MS);
    if (claim === "replay") return { ok: false, failure: fail("replayed_nonce", "This request's nonce was already used; sign every request with a fresh nonce.") };
    return { ok: true };
  }

  /**
   * Replaces the hold's estimate by the real usage and charges it: up to the reservation plus the free balance,
   * never below zero (settlement.ts). A settle after expiry corrects what the expiry charged; after a release
   * it still charges (the tokens were used). A request served unheld is charged once, even below zero.
   */
  async settle(s: Settlement): Promise<SettleResult> {
    checkSettlement(s);
    const hold = this.#holds.find(s.holdId);
    if (hold === undefined) return s.unheld ? this.#settleUnheld(s) : { balanceMicros: this.#balance, alreadySettled: false, unknownHold: true, chargedMicros: 0 };
    if (hold.state === HoldState.settled) return { balanceMicros: this.#balance, alreadySettled: true, chargedMicros: hold.cost };
    const wasOpen = hold.state === HoldState.open;
    const wasCharged = hold.state === HoldState.lapsed;
    const charge = wasOpen
      ? chargeOpen(hold, s.costMicros, this.#balance, this.#holds.heldMicros)
      : chargeClosed(hold, s.costMicros, this.#balance, this.#holds.heldMicros);
    this.#mutate(() => {
      // An open or charged-at-expiry hold still counts its reservation in the quotas; a released one gave it back.
      const counted = wasOpen || wasCharged;
      for (const r of hold.reservations) this.#quotas.adjust(r, actualAmount(r.t, s.tokens, s.costMicros) - (counted ? r.n : 0));
      this.#holds.close(hold, HoldState.settled, s.tokens, charge.total);
      if (charge.delta !== 0) this.#setBalance(this.#balance - charge.delta);
    });
    this.#windows.setTokens(hold.id, s.tokens);
    const result: SettleResult = { balanceMicros: this.#balance, alreadySettled: false, chargedMicros: charge.total };
    if (charge.uncollected > 0) result.uncollectedMicros = charge.uncollected;
    if (wasCharged) result.correctionMicros = charge.delta;
    return result;
  }

  /** A request served with no hold (guard unreachable, balance policy open): charged once per request id, even below zero. */
  #settleUnheld(s: Settlement): SettleResult {
    const unheld = s.unheld!;
    const now = Math.max(Date.now(), this.#clock);
    const hold: Hold = {
      id: s.holdId,
      keyId: unheld.keyId,
      channel: unheld.channel,
      ip: null,
      at: now,
      expiresAt: now,
      state: HoldState.open,
      estTokens: s.tokens,
      estCost: 0,
      charge: unheld.channel === "external",
      reservations: [],
      model: null,
      cost: 0,
    };
    const charge = hold.charge ? s.costMicros : 0;
    this.#mutate(() => {
      this.#holds.insert(hold);
      this.#holds.close(hold, HoldState.settled, s.tokens, charge);
      if (charge !== 0) this.#setBalance(this.#balance - charge);
    });
    return { balanceMicros: this.#balance, alreadySettled: false, chargedMicros: charge };
  }

  /** Frees a hold with no charge (upstream failed before any byte). The request still counts in RPM. */
  async release(holdId: string): Promise<ReleaseResult> {
    const hold = this.#holds.open.get(holdId);
    if (hold === undefined) return { released: false, balanceMicros: this.#balance };
    this.#closeUncharged(hold, HoldState.released);
    return { released: true, balanceMicros: this.#balance };
  }

  /** Records how an idempotent request ended (from the gateway's completion path); false if the key is no longer its. */
  async finishIdempotent(f: IdempotencyFinish): Promise<{ applied: boolean }> {
    checkIdempotencyFinish(f);
    return { applied: this.#mutate(() => this.#idempotency.finish(f)) };
  }

  /** Keeps an event whose queue send failed, once per kind and request id, and arms the alarm that sends it. */
  async outboxPut(kind: OutboxKind, message: unknown): Promise<OutboxPutResult> {
    const body = checkOutboxMessage(kind, message);
    const requestId = (message as { request_id: string }).request_id;
    const stored = this.#mutate(() => this.#outbox.put(kind, requestId, body, Date.now()));
    if (stored) await this.#ensureAlarm(OUTBOX_FIRST_RETRY_MS);
    return { stored };
  }

  async outboxStatus(): Promise<OutboxStatus> {
    return this.#outbox.status();
  }

  /** A top-up, applied once per idempotency key. */
  async credit(amountMicros: number, idempotencyKey: string, opts: { now?: number } = {}): Promise<CreditResult> {
    checkCredit(amountMicros, idempotencyKey);
    const now = opts.now ?? Date.now();
    const seen = this.#sql.exec(`SELECT 1 FROM credits WHERE idempotency_key = ?`, idempotencyKey).toArray().length > 0;
    if (seen) return { balanceMicros: this.#balance, applied: false };
    this.#mutate(() => {
      this.#sql.exec(`INSERT INTO credits (idempotency_key, amount, at) VALUES (?, ?, ?)`, idempotencyKey, amountMicros, now);
      this.#setBalance(this.#balance + amountMicros);
    });
    return { balanceMicros: this.#balance, applied: true };
  }

  async setKeyStatus(keyId: string, status: KeyStatus): Promise<{ status: KeyStatus }> {
    if (status !== "active" && status !== "frozen" && status !== "revoked") throw new TypeError("invalid key status");
    this.#mutate(() => this.#access.setKeyStatus(keyId, status));
    return { status };
  }

  async setTenantStatus(status: TenantStatus): Promise<{ status: TenantStatus }> {
    if (status !== "active" && status !== "banned") throw new TypeError("invalid tenant status");
    this.#mutate(() => this.#access.setTenantStatus(status));
    return { status };
  }

  /** Counts a bad signature; the key freezes at `threshold` failures inside `windowMs` (an admin unfreezes it). */
  async recordSignatureFailure(keyId: string, opts: SignatureFailureOptions = {}): Promise<SignatureFailureResult> {
    const now = opts.now ?? Date.now();
    const threshold = opts.threshold ?? 20;
    const windowMs = opts.windowMs ?? 600_000;
    let failures = 0;
    let frozenNow = false;
    this.#mutate(() => {
      failures = this.#access.recordSignatureFailure(keyId, now, windowMs);
      if (failures >= threshold && this.#access.keyStatus(keyId) === "active") {
        this.#access.setKeyStatus(keyId, "frozen");
        frozenNow = true;
      }
    });
    return { frozen: this.#access.keyStatus(keyId) === "frozen", frozenNow, failures };
  }

  async snapshot(opts: { now?: number } = {}): Promise<GuardSnapshot> {
    const now = opts.now ?? Math.max(Date.now(), this.#clock);
    return {
      tenantStatus: this.#access.tenantStatus,
      balanceMicros: this.#balance,
      openHolds: this.#holds.open.size,
      holdMicros: this.#holds.heldMicros,
      quotas: this.#quotas.usage(now),
      keys: this.#access.keys(),
    };
  }

  /** Test-only: the next `count` alarm runs throw after doing part of their work. */
  async __testFailNextAlarms(count: number): Promise<void> {
    if (this.env.ENVIRONMENT !== "test") throw new Error("__testFailNextAlarms is only available when ENVIRONMENT is test");
    this.#failNextAlarms = count;
  }

  /** Expires unsettled holds and prunes old rows. Every effect is per row and happens once, so a retried run is harmless. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    // Real time or the latest clock a caller gave, whichever is later (tests drive the clock).
    const now = Math.max(Date.now(), this.#clock);
    await this.#setAlarm(Date.now() + ALARM_RETRY_MS);
    const injectFailure = this.#failNextAlarms > 0;
    if (injectFailure) this.#failNextAlarms -= 1;
    for (const hold of this.#holds.due(now)) {
      this.#expire(hold, now);
      if (injectFailure) throw new Error("injected alarm failure (test)");
    }
    if (injectFailure) throw new Error("injected alarm failure (test)");
    // Queues use real time: the outbox's retry schedule ignores the test clock.
    await this.#outbox.drain(Date.now(), (kind, bodies) => this.#sendBatch(kind, bodies), (fn) => this.#mutate(fn));
    const nextInMs = this.#mutate(() => this.#housekeep(now));
    if (nextInMs !== null) return this.#setAlarm(Date.now() + nextInMs);
    this.#alarmAt = null;
    await this.ctx.storage.deleteAlarm();
  }

  /** Prunes expired nonces and old closed rows; returns how long until the alarm has work again (null: none). */
  #housekeep(now: number): number | null {
    const nonceDue = this.#access.prune(now);
    this.#holds.prune(now);
    this.#idempotency.prune(now);
    this.#outbox.prune(Date.now());
    const oldestClosed = this.#holds.oldestClosed();
    const dues: number[] = [];
    const firstHold = this.#holds.open.values().next().value;
    if (firstHold !== undefined) dues.push(Math.max(firstHold.expiresAt - now, MIN_ALARM_GAP_MS));
    if (nonceDue !== null) dues.push(Math.max(nonceDue - now, HOUSEKEEPING_GAP_MS));
    if (oldestClosed !== null) dues.push(Math.max(oldestClosed + HOLD_TTL_MS + CLOSED_RETENTION_MS - now, HOUSEKEEPING_GAP_MS));
    const keyExpiry = this.#idempotency.nextExpiry();
    if (keyExpiry !== null) dues.push(Math.max(keyExpiry - now, HOUSEKEEPING_GAP_MS));
    const outbox = this.#outbox.nextDue();
    if (outbox.retryAt !== null) dues.push(Math.max(outbox.retryAt - Date.now(), MIN_ALARM_GAP_MS));
    if (outbox.pruneAt !== null) dues.push(Math.max(outbox.pruneAt - Date.now(), HOUSEKEEPING_GAP_MS));
    return dues.length === 0 ? null : Math.min(...dues);
  }

  #decide(req: AdmissionRequest, levels: Level[], now: number): AdmissionResult {
    const statusFailure = this.#access.statusFailure(req.keyId);
    // The nonce burns even when the request is then rejected: a replay of a rejected request is still a replay.
    const claim = req.nonce === undefined ? "fresh" : this.#access.claimNonce(req.nonce.value, req.nonce.timestamp, req.requestId, now);
    const reject = (failure: GatewayFailure, rateLimit?: RateLimitSnapshot): AdmissionResult => ({
      ok: false,
      failure,
      rateLimit: rateLimit ?? this.#windows.snapshot(levels, now, 0, 0),
    });
    if (statusFailure !== undefined) return reject(statusFailure);
    if (claim === "replay") return reject(fail("replayed_nonce", "This request's nonce was already used; sign every request with a fresh nonce."));
    // After status and nonce (a captured request must not fetch a stored answer), before limits: a retry of a
    // request that was already served never waits on a rate limit, and a replay takes no hold and costs nothing.
    const seen = req.idempotency === undefined ? undefined : this.#idempotency.check(req.idempotency, now);
    if (seen !== undefined) return { ok: false, failure: seen.failure, rateLimit: this.#windows.snapshot(levels, now, 0, 0), ...(seen.replay && { replay: seen.replay }) };

    const verdict = this.#windows.evaluate(levels, req.estimate.tokens, now);
    if (!verdict.ok) return reject(verdict.failure, verdict.snapshot);
    const quota = this.#quotas.plan(req.quotas, req.keyId, req.capability, req.estimate, now);
    if (!quota.ok) return reject(quota.failure);
    const available = this.#balance - this.#holds.heldMicros;
    if (req.chargeBalance && available < req.estimate.costMicros) {
      return reject(fail("insufficient_balance", `The prepaid balance cannot cover this request (available ${available} micro-units, estimated cost ${req.estimate.costMicros}). Top up to continue.`));
    }

    const hold: Hold = {
      id: req.requestId,
      keyId: req.keyId,
      channel: req.channel,
      ip: req.clientIp,
      at: now,
      expiresAt: now + HOLD_TTL_MS,
      state: HoldState.open,
      estTokens: req.estimate.tokens,
      estCost: req.estimate.costMicros,
      charge: req.chargeBalance,
      reservations: quota.reservations,
      model: req.model ?? null,
      cost: 0,
    };
    this.#mutate(() => {
      this.#holds.insert(hold);
      this.#quotas.commit(quota.counters);
      if (req.idempotency !== undefined) this.#idempotency.claim(req.idempotency, hold.id, now, HOLD_TTL_MS);
    });
    this.#windows.add(hold.id, now, hold.estTokens, levels.map((l) => l.subject));
    return this.#admitted(hold, verdict.snapshot, false);
  }

  #admitted(hold: Hold, rateLimit: RateLimitSnapshot, replayed: boolean): AdmissionResult {
    const result: AdmissionResult = { ok: true, holdId: hold.id, rateLimit };
    if (replayed) result.replayed = true;
    if (hold.charge) {
      result.balanceMicros = this.#balance;
      result.availableMicros = this.#balance - this.#holds.heldMicros;
    }
    return result;
  }

  #closeUncharged(hold: Hold, state: HoldStateValue): void {
    this.#mutate(() => {
      this.#holds.close(hold, state, 0, 0);
      for (const r of hold.reservations) this.#quotas.adjust(r, -r.n);
      this.#idempotency.freeHold(hold.id);
    });
    this.#windows.setTokens(hold.id, 0);
  }

  /** Expires the holds due; returns how many (their events wait in the outbox for the alarm). */
  #expireDue(now: number): number {
    const due = this.#holds.due(now);
    for (const hold of due) this.#expire(hold, now);
    return due.length;
  }

  /**
   * An open hold at its expiry: its request's isolate died with it in flight (the gateway settles or releases
   * every hold whose request it saw end), so it is charged its reservation, which stays counted in the quotas,
   * and its ledger and audit rows go out through the outbox, flagged hold_expired. A later settle corrects it.
   */
  #expire(hold: Hold, now: number): void {
    const tenantId = this.#tenantId();
    this.#mutate(() => {
      const charge = hold.charge ? hold.estCost : 0;
      this.#holds.close(hold, HoldState.lapsed, hold.estTokens, charge);
      if (charge !== 0) this.#setBalance(this.#balance - charge);
      this.#idempotency.freeHold(hold.id);
      this.#outbox.put("billing", hold.id, JSON.stringify({ ...expiryBilling(tenantId, hold, now), amount_micros: -charge }), Date.now());
      this.#outbox.put("audit", hold.id, JSON.stringify(expiryAudit(tenantId, hold, now)), Date.now());
    });
  }

  /** The tenant (or service) this object belongs to: its name, kept in storage for alarms (which may run without it). */
  #tenantId(): string {
    return this.#name ?? "unknown";
  }

  #remember(requestId: string, result: AdmissionResult, now: number): void {
    this.#rejections.set(requestId, { result, at: now });
    if (this.#rejections.size > REJECTION_MEMORY) this.#rejections.delete(this.#rejections.keys().next().value!);
  }

  /** The object's name when the runtime gives it (a stub from idFromName), remembered for calls that come without it. */
  #rememberName(name: string | undefined): string | undefined {
    if (name !== undefined) this.#sql.exec(`INSERT OR REPLACE INTO meta (name, value) VALUES ('tenant_id', ?)`, name);
    return name ?? this.#sql.exec<{ value: string }>(`SELECT value FROM meta WHERE name = 'tenant_id'`).toArray()[0]?.value;
  }

  #setBalance(value: number): void {
    this.#sql.exec(`UPDATE meta SET value = ? WHERE name = 'balance'`, value);
    this.#balance = value;
  }

  /** Only admissions move the clock: they are what the sliding logs order. */
  #tick(now: number | undefined): number {
    const t = now ?? Date.now();
    if (!Number.isFinite(t)) throw new TypeError("now must be a finite number of milliseconds");
    this.#clock = Math.max(this.#clock, t);
    return this.#clock;
  }

  /** Runs writes in one transaction; if anything throws, the caches are rebuilt from what SQLite kept. */
  #mutate<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (error) {
      this.#load();
      throw error;
    }
  }

  #load(): void {
    this.#balance = this.#sql.exec<{ value: number }>(`SELECT value FROM meta WHERE name = 'balance'`).one().value;
    this.#access.load();
    this.#quotas.load();
    this.#holds.load();
    this.#clock = Math.max(this.#clock, this.#holds.latestAdmission());
    this.#windows = new RateWindows();
    for (const row of this.#holds.recent(this.#clock - WINDOW_MS)) {
      this.#windows.add(row.id, row.at, row.tokens, levelsOf(row.channel, row.keyId, row.ip, {}).map((l) => l.subject));
    }
  }

  async #ensureAlarm(dueInMs: number): Promise<void> {
    const at = Date.now() + dueInMs;
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    await this.#setAlarm(at);
  }

  async #setAlarm(at: number): Promise<void> {
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  async #sendBatch(kind: OutboxKind, bodies: unknown[]): Promise<void> {
    const queue = kind === "billing" ? this.env.BILLING_QUEUE : this.env.AUDIT_QUEUE;
    await queue.sendBatch(bodies.map((body) => ({ body, contentType: "json" as const })));
  }
}
