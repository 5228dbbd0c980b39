// admit()'s decision: status, nonce, Idempotency-Key, rate limits, quotas and balance, all or nothing, and
// the hold it opens. Synchronous against GuardState, so no other call interleaves between read and write.
import { fail, type GatewayFailure } from "../../src/errors";
import type { AdmissionRequest, AdmissionResult, RateLimitSnapshot } from "../../src/guard/types";
import { HOLD_TTL_MS, HoldState, isRetryOf, type Hold } from "./holds";
import { isIdempotencyAnswer } from "./idempotency";
import { checkSlots, concurrencyRefusal } from "./in-flight";
import { levelsOf, type Level } from "./rate-windows";
import type { GuardState } from "./state";

/** Rejections are remembered briefly so a retried admit gets the same answer (they changed no counter). */
const REJECTION_MEMORY = 1024;
const REJECTION_TTL_MS = 60_000;

export class AdmissionDecider {
  #state: GuardState;
  #rejections = new Map<string, { result: AdmissionResult; at: number }>();

  constructor(state: GuardState) {
    this.#state = state;
  }

  /** The decision for `req` at `now`; a retry of an admitted or rejected request gets the same answer. */
  decide(req: AdmissionRequest, now: number): AdmissionResult {
    const s = this.#state;
    s.windows.prune(now);
    const levels = levelsOf(req.channel, req.keyId, req.clientIp, req.limits);
    const prior = s.holds.find(req.requestId);
    if (prior !== undefined) {
      const snapshot = s.windows.snapshot(levels, now, 0, 0);
      // A genuine retry can only arrive while its hold is open (nobody settles a hold it never heard of).
      // Anything else reusing the id is another request, and must not ride on the first one's hold.
      const sameNonce = req.nonce === undefined || s.access.nonceHolder(req.nonce.value) === req.requestId;
      if (prior.state === HoldState.open && sameNonce && isRetryOf(prior, req)) return this.#admitted(prior, snapshot, true);
      return { ok: false, failure: fail("idempotency_key_conflict", "This request id was already used by another request."), rateLimit: snapshot };
    }
    const remembered = this.#rejections.get(req.requestId);
    if (remembered !== undefined && now - remembered.at < REJECTION_TTL_MS) return remembered.result;
    const result = this.#fresh(req, levels, now);
    // Idempotency-Key answers follow the key's state (in use now, replayable later), and a full concurrency
    // slot frees any moment (a queued request is decided again then): neither is remembered.
    if (!result.ok && !isIdempotencyAnswer(result) && !isConcurrencyRefusal(result)) this.#remember(req.requestId, result, now);
    return result;
  }

  /** A queued request's decision once a slot may have freed: every check again, as if it had just arrived. */
  decideAgain(req: AdmissionRequest, now: number): AdmissionResult {
    const s = this.#state;
    s.windows.prune(now);
    // Its nonce is already held by this request id, so the claim reads as its own retry, not a replay.
    return this.#fresh(req, levelsOf(req.channel, req.keyId, req.clientIp, req.limits), now);
  }

  #fresh(req: AdmissionRequest, levels: Level[], now: number): AdmissionResult {
    const s = this.#state;
    const statusFailure = s.access.statusFailure(req.keyId);
    // The nonce burns even when the request is then rejected: a replay of a rejected request is still a replay.
    const claim = req.nonce === undefined ? "fresh" : s.access.claimNonce(req.nonce.value, req.nonce.timestamp, req.requestId, now);
    const reject = (failure: GatewayFailure, rateLimit?: RateLimitSnapshot): AdmissionResult => ({
      ok: false,
      failure,
      rateLimit: rateLimit ?? s.windows.snapshot(levels, now, 0, 0),
    });
    if (statusFailure !== undefined) return reject(statusFailure);
    if (claim === "replay") return reject(fail("replayed_nonce", "This request's nonce was already used; sign every request with a fresh nonce."));
    // After status and nonce (a captured request must not fetch a stored answer), before limits: a retry of a
    // request that was already served never waits on a rate limit, and a replay takes no hold and costs nothing.
    const seen = req.idempotency === undefined ? undefined : s.idempotency.check(req.idempotency, now);
    if (seen !== undefined) return { ok: false, failure: seen.failure, rateLimit: s.windows.snapshot(levels, now, 0, 0), ...(seen.replay && { replay: seen.replay }) };

    const verdict = s.windows.evaluate(levels, req.estimate.tokens, now);
    if (!verdict.ok) return reject(verdict.failure, verdict.snapshot);
    const quota = s.quotas.plan(req.quotas, req.keyId, req.capability, req.estimate, now);
    if (!quota.ok) return reject(quota.failure);
    const available = s.balance - s.holds.heldMicros;
    if (req.chargeBalance && available < req.estimate.costMicros) {
      return reject(fail("insufficient_balance", `The prepaid balance cannot cover this request (available ${available} micro-units, estimated cost ${req.estimate.costMicros}). Top up to continue.`));
    }
    // Last: the other refusals are final, while a full slot may be waited for (the queue policy).
    const slots = checkSlots(s.holds.inFlight, req);
    if (!slots.ok) {
      const cap = slots.level === "key" ? req.concurrency?.key : req.concurrency?.tenant;
      return reject(concurrencyRefusal(slots.level, cap, req.channel), { ...s.windows.snapshot(levels, now, 0, 0), ...slots.snapshot });
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
    s.mutate(() => {
      s.holds.insert(hold);
      s.quotas.commit(quota.counters);
      if (req.idempotency !== undefined) s.idempotency.claim(req.idempotency, hold.id, now, HOLD_TTL_MS);
    });
    s.windows.add(hold.id, now, hold.estTokens, levels.map((l) => l.subject));
    return this.#admitted(hold, { ...verdict.snapshot, ...slots.snapshot }, false);
  }

  #admitted(hold: Hold, rateLimit: RateLimitSnapshot, replayed: boolean): AdmissionResult {
    const s = this.#state;
    const result: AdmissionResult = { ok: true, holdId: hold.id, rateLimit };
    if (replayed) result.replayed = true;
    if (hold.charge) {
      result.balanceMicros = s.balance;
      result.availableMicros = s.balance - s.holds.heldMicros;
    }
    return result;
  }

  #remember(requestId: string, result: AdmissionResult, now: number): void {
    this.#rejections.set(requestId, { result, at: now });
    if (this.#rejections.size > REJECTION_MEMORY) this.#rejections.delete(this.#rejections.keys().next().value!);
  }
}

export function isConcurrencyRefusal(result: AdmissionResult): boolean {
  return !result.ok && result.failure.kind === "concurrency_limit_exceeded";
}
