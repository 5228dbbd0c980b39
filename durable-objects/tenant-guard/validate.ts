// Input checks for the guard's RPC methods: a malformed call is a caller bug, so it throws.
import { MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT_MS } from "../../src/config/schemas";
import type { AdmissionRequest, ConcurrencyCaps, IdempotencyFinish, LimitRule, Settlement } from "../../src/guard/types";

const MAX_ID_LENGTH = 256;
/** The Idempotency-Key header's grammar, checked again here because the object trusts no caller. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

function nonNegativeInt(value: unknown, name: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative safe integer`);
}

function id(value: unknown, name: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) throw new TypeError(`${name} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
}

function optionalTime(value: unknown, name: string): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) throw new TypeError(`${name} must be a finite number of milliseconds`);
}

function limitRule(rule: LimitRule | undefined, name: string): void {
  if (rule === undefined) return;
  if (rule.requests_per_minute !== undefined) nonNegativeInt(rule.requests_per_minute, `${name}.requests_per_minute`);
  if (rule.tokens_per_minute !== undefined) nonNegativeInt(rule.tokens_per_minute, `${name}.tokens_per_minute`);
}

export function checkAdmission(req: AdmissionRequest): void {
  id(req.requestId, "requestId");
  id(req.keyId, "keyId");
  if (req.channel !== "external" && req.channel !== "internal") throw new TypeError("channel must be external or internal");
  if (req.capability !== "chat" && req.capability !== "embeddings") throw new TypeError("capability must be chat or embeddings");
  if (req.clientIp !== null && typeof req.clientIp !== "string") throw new TypeError("clientIp must be a string or null");
  if (req.nonce !== undefined) id(req.nonce.value, "nonce.value");
  limitRule(req.limits.tenant, "limits.tenant");
  limitRule(req.limits.key, "limits.key");
  limitRule(req.limits.ip, "limits.ip");
  for (const rule of req.quotas) {
    id(rule.id, "quota.id");
    nonNegativeInt(rule.limit, `quota ${rule.id} limit`);
  }
  nonNegativeInt(req.estimate.tokens, "estimate.tokens");
  nonNegativeInt(req.estimate.costMicros, "estimate.costMicros");
  if (req.idempotency !== undefined) {
    if (typeof req.idempotency.key !== "string" || !IDEMPOTENCY_KEY.test(req.idempotency.key)) throw new TypeError("idempotency.key must be 1-255 printable ASCII characters");
    if (typeof req.idempotency.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(req.idempotency.fingerprint)) throw new TypeError("idempotency.fingerprint must be a hex SHA-256");
  }
  if (req.concurrency !== undefined) checkCaps(req.concurrency);
  optionalTime(req.now, "now");
}

/** Caps are at least 1 (0 would refuse everything: a tenant to ban, not to cap); the queue bounds as the config allows. */
function checkCaps(caps: ConcurrencyCaps): void {
  for (const [name, cap] of [["tenant", caps.tenant], ["key", caps.key]] as const) {
    if (cap !== undefined && (!Number.isSafeInteger(cap) || cap < 1)) throw new TypeError(`concurrency.${name} must be a positive integer`);
  }
  const q = caps.queue;
  if (q === undefined) return;
  if (!Number.isSafeInteger(q.maxLength) || q.maxLength < 1 || q.maxLength > MAX_QUEUE_LENGTH) throw new TypeError(`concurrency.queue.maxLength must be 1..${MAX_QUEUE_LENGTH}`);
  if (!Number.isSafeInteger(q.maxWaitMs) || q.maxWaitMs < 1 || q.maxWaitMs > MAX_QUEUE_WAIT_MS) throw new TypeError(`concurrency.queue.maxWaitMs must be 1..${MAX_QUEUE_WAIT_MS}`);
}

export function checkSettlement(s: Settlement): void {
  id(s.holdId, "holdId");
  nonNegativeInt(s.tokens, "tokens");
  nonNegativeInt(s.costMicros, "costMicros");
  nonNegativeInt(s.inputTokens, "inputTokens");
  nonNegativeInt(s.outputTokens, "outputTokens");
  optionalTime(s.now, "now");
}

export function checkCredit(amountMicros: number, idempotencyKey: string): void {
  if (!Number.isSafeInteger(amountMicros) || amountMicros <= 0) throw new TypeError("amountMicros must be a positive safe integer");
  id(idempotencyKey, "idempotencyKey");
}

export function checkIdempotencyFinish(f: IdempotencyFinish): void {
  if (typeof f.key !== "string" || !IDEMPOTENCY_KEY.test(f.key)) throw new TypeError("key must be 1-255 printable ASCII characters");
  id(f.holdId, "holdId");
  if (f.outcome === "too_large") return nonNegativeInt(f.bytes, "bytes");
  if (f.outcome === "failed") return;
  if (f.outcome !== "completed") throw new TypeError("outcome must be completed, too_large or failed");
  const r = f.response;
  if (!Number.isInteger(r.status) || r.status < 200 || r.status > 299) throw new TypeError("only a 2xx response is stored");
  if (!(r.body instanceof Uint8Array)) throw new TypeError("response.body must be bytes");
  if (typeof r.headers !== "object" || r.headers === null || Object.values(r.headers).some((v) => typeof v !== "string")) throw new TypeError("response.headers must map names to strings");
}
