// TenantGuard: one Durable Object per tenant holding its limits, quotas, nonces, balance holds, freezes,
// client Idempotency-Keys and the outbox of billing / audit events whose queue send failed.
//
// Every RPC method runs synchronously against SQLite plus in-memory caches loaded in the constructor, so
// each call is atomic: no other call interleaves between a read and the write that depends on it. Writes
// of one decision go in one transaction; the only awaits are alarm scheduling, after the state changed,
// and the alarm's outbox sends (outbox.ts reads, sends, then marks, so nothing depends on a stale read).
// The work itself lives under tenant-guard/: admission-decision.ts (admit), hold-closing.ts (settle,
// release, expiry), housekeeping.ts (the alarm's pruning), state.ts (SQLite and the caches).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { fail } from "../src/errors";
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
  ReleaseResult,
  SettleResult,
  Settlement,
  SignatureFailureOptions,
  SignatureFailureResult,
  TenantStatus,
} from "../src/guard/types";
import { NONCE_TTL_MS } from "./tenant-guard/access";
import { AdmissionDecider, isConcurrencyRefusal } from "./tenant-guard/admission-decision";
import { checkSlots } from "./tenant-guard/in-flight";
import { SlotQueue } from "./tenant-guard/slot-queue";
import { expireDue, expireHold, releaseHold, settleHold } from "./tenant-guard/hold-closing";
import { HOLD_TTL_MS } from "./tenant-guard/holds";
import { housekeep } from "./tenant-guard/housekeeping";
import { OUTBOX_FIRST_RETRY_MS, checkOutboxMessage } from "./tenant-guard/outbox";
import { ensureSchema } from "./tenant-guard/schema";
import { GuardState } from "./tenant-guard/state";
import { checkAdmission, checkCredit, checkIdempotencyFinish, checkSettlement } from "./tenant-guard/validate";

export { HOLD_TTL_MS, NONCE_TTL_MS };

/** The alarm re-arms itself this far ahead before working, so a crash mid-run is retried. */
const ALARM_RETRY_MS = 30_000;

export class TenantGuard extends DurableObject<Env> {
  #state: GuardState;
  #decider: AdmissionDecider;
  #queue = new SlotQueue();
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#state = new GuardState(ctx.storage);
    this.#decider = new AdmissionDecider(this.#state);
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#state.rememberName(ctx.id.name);
      this.#state.load();
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** One call before the upstream request: status, nonce, rate limits, quotas and balance, all or nothing. */
  async admit(req: AdmissionRequest): Promise<AdmissionResult> {
    checkAdmission(req);
    const now = this.#state.tick(req.now);
    const expired = expireDue(this.#state, now);
    if (expired > 0) this.#offerSlots();
    let result = this.#decider.decide(req, now);
    // The queue policy: wait here for a slot (slot-queue.ts), queued before any await so no slot freed
    // meanwhile passes it by; every check is made again when one frees.
    const queue = req.concurrency?.queue;
    const waiting = queue !== undefined && isConcurrencyRefusal(result) ? this.#queue.wait(req, result, queue) : undefined;
    // Alarms after the decision (nothing awaits between a read and the write that depends on it): the
    // expired holds' events wait in the outbox, a new hold expires, a nonce must be pruned.
    if (expired > 0) await this.#ensureAlarm(OUTBOX_FIRST_RETRY_MS);
    if (waiting !== undefined) result = await waiting;
    if (result.ok && !result.replayed) await this.#ensureAlarm(HOLD_TTL_MS);
    else if (!result.ok && req.nonce !== undefined) await this.#ensureAlarm(NONCE_TTL_MS);
    return result;
  }

  /**
   * For read-only routes (models, audit, usage, tenant health): the key and tenant status and, for a signed
   * request, its nonce — the same checks admit() makes, with no limits, hold or charge.
   */
  async checkAccess(req: AccessCheck): Promise<AccessResult> {
    const s = this.#state;
    const now = s.tick(req.now);
    const statusFailure = s.access.statusFailure(req.keyId);
    if (statusFailure !== undefined) return { ok: false, failure: statusFailure };
    if (req.nonce === undefined) return { ok: true };
    const nonce = req.nonce;
    const claim = s.mutate(() => s.access.claimNonce(nonce.value, nonce.timestamp, req.requestId, now));
    await this.#ensureAlarm(NONCE_TTL_MS);
    if (claim === "replay") return { ok: false, failure: fail("replayed_nonce", "This request's nonce was already used; sign every request with a fresh nonce.") };
    return { ok: true };
  }

  /** Charges the real usage against the hold (hold-closing.ts says how). */
  async settle(s: Settlement): Promise<SettleResult> {
    checkSettlement(s);
    const result = settleHold(this.#state, s);
    this.#offerSlots();
    return result;
  }

  /** Frees a hold with no charge (upstream failed before any byte). The request still counts in RPM. */
  async release(holdId: string): Promise<ReleaseResult> {
    const result = releaseHold(this.#state, holdId);
    if (result.released) this.#offerSlots();
    return result;
  }

  /** A hold closed: its slot goes to the queued requests that now fit. */
  #offerSlots(): void {
    if (this.#queue.size === 0) return;
    const s = this.#state;
    this.#queue.pump(
      (req) => checkSlots(s.holds.inFlight, req).ok,
      (req) => this.#decider.decideAgain(req, s.tick(undefined)),
      isConcurrencyRefusal,
    );
  }

  /** Records how an idempotent request ended (from the gateway's completion path); false if the key is no longer its. */
  async finishIdempotent(f: IdempotencyFinish): Promise<{ applied: boolean }> {
    checkIdempotencyFinish(f);
    const s = this.#state;
    return { applied: s.mutate(() => s.idempotency.finish(f)) };
  }

  /** Keeps an event whose queue send failed, once per kind and request id, and arms the alarm that sends it. */
  async outboxPut(kind: OutboxKind, message: unknown): Promise<OutboxPutResult> {
    const body = checkOutboxMessage(kind, message);
    const requestId = (message as { request_id: string }).request_id;
    const s = this.#state;
    const stored = s.mutate(() => s.outbox.put(kind, requestId, body, Date.now()));
    if (stored) await this.#ensureAlarm(OUTBOX_FIRST_RETRY_MS);
    return { stored };
  }

  async outboxStatus(): Promise<OutboxStatus> {
    return this.#state.outbox.status();
  }

  /** A top-up, applied once per idempotency key. */
  async credit(amountMicros: number, idempotencyKey: string, opts: { now?: number } = {}): Promise<CreditResult> {
    checkCredit(amountMicros, idempotencyKey);
    const s = this.#state;
    const now = opts.now ?? Date.now();
    const seen = s.sql.exec(`SELECT 1 FROM credits WHERE idempotency_key = ?`, idempotencyKey).toArray().length > 0;
    if (seen) return { balanceMicros: s.balance, applied: false };
    s.mutate(() => {
      s.sql.exec(`INSERT INTO credits (idempotency_key, amount, at) VALUES (?, ?, ?)`, idempotencyKey, amountMicros, now);
      s.setBalance(s.balance + amountMicros);
    });
    return { balanceMicros: s.balance, applied: true };
  }

  async setKeyStatus(keyId: string, status: KeyStatus): Promise<{ status: KeyStatus }> {
    if (status !== "active" && status !== "frozen" && status !== "revoked") throw new TypeError("invalid key status");
    const s = this.#state;
    s.mutate(() => s.access.setKeyStatus(keyId, status));
    return { status };
  }

  async setTenantStatus(status: TenantStatus): Promise<{ status: TenantStatus }> {
    if (status !== "active" && status !== "banned") throw new TypeError("invalid tenant status");
    const s = this.#state;
    s.mutate(() => s.access.setTenantStatus(status));
    return { status };
  }

  /** Counts a bad signature; the key freezes at `threshold` failures inside `windowMs` (an admin unfreezes it). */
  async recordSignatureFailure(keyId: string, opts: SignatureFailureOptions = {}): Promise<SignatureFailureResult> {
    const s = this.#state;
    const now = opts.now ?? Date.now();
    const threshold = opts.threshold ?? 20;
    const windowMs = opts.windowMs ?? 600_000;
    let failures = 0;
    let frozenNow = false;
    s.mutate(() => {
      failures = s.access.recordSignatureFailure(keyId, now, windowMs);
      if (failures >= threshold && s.access.keyStatus(keyId) === "active") {
        s.access.setKeyStatus(keyId, "frozen");
        frozenNow = true;
      }
    });
    return { frozen: s.access.keyStatus(keyId) === "frozen", frozenNow, failures };
  }

  async snapshot(opts: { now?: number } = {}): Promise<GuardSnapshot> {
    const s = this.#state;
    const now = opts.now ?? s.latest();
    return {
      tenantStatus: s.access.tenantStatus,
      balanceMicros: s.balance,
      openHolds: s.holds.open.size,
      queued: this.#queue.size,
      holdMicros: s.holds.heldMicros,
      quotas: s.quotas.usage(now),
      keys: s.access.keys(),
    };
  }

  /**
   * Called after each hold an alarm run expires, and once after all of them. Every effect of a run is per
   * row, so a run cut short anywhere must leave a retry to finish the rest without redoing any: this is
   * the seam where a test cuts a run short (it assigns a function that throws, through runInDurableObject).
   */
  alarmCheckpoint: (stage: "hold_expired" | "holds_expired") => void = () => {};

  /** Expires unsettled holds and prunes old rows. Every effect is per row and happens once, so a retried run is harmless. */
  override async alarm(): Promise<void> {
    const s = this.#state;
    this.#alarmAt = null;
    const now = s.latest();
    await this.#setAlarm(Date.now() + ALARM_RETRY_MS);
    for (const hold of s.holds.due(now)) {
      expireHold(s, hold, now);
      this.#offerSlots();
      this.alarmCheckpoint("hold_expired");
    }
    this.alarmCheckpoint("holds_expired");
    // Queues use real time: the outbox's retry schedule ignores the test clock.
    await s.outbox.drain(Date.now(), (kind, bodies) => this.#sendBatch(kind, bodies), (fn) => s.mutate(fn));
    const nextInMs = s.mutate(() => housekeep(s, now));
    if (nextInMs !== null) return this.#setAlarm(Date.now() + nextInMs);
    this.#alarmAt = null;
    await this.ctx.storage.deleteAlarm();
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
