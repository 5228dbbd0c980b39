// Input checks for the guard's RPC methods: a malformed call is a caller bug, so it throws.
import type { AdmissionRequest, LimitRule, Settlement } from "../../src/guard/types";

const MAX_ID_LENGTH = 256;

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
  optionalTime(req.now, "now");
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
