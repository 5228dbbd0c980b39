// GlobalLimiter: the Durable Object backend of the global bucket (`gw:rl:global`), one object named
// "global" for every tenant. Single-threaded, so each decision is exact; every call is synchronous
// against the in-memory state loaded once, and writes through to SQLite so a restart changes nothing.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { emptyBucket, refundShare, takeShare, type BucketState, type TenantShare } from "../src/global-limit/fair-share";
import type { GlobalDecision, GlobalRefund, GlobalTake } from "../src/global-limit/types";
import { dropInactive, ensureSchema, loadBuckets, saveBucket, saveShare } from "./global-limiter/store";

export interface GlobalBucketSnapshot {
  window: number;
  usedRequests: number;
  usedTokens: number;
  tenants: Record<string, TenantShare>;
}

const positive = (n: number | undefined): number | undefined => (n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined);

export class GlobalLimiter extends DurableObject<Env> {
  #sql: SqlStorage;
  #buckets = new Map<string, BucketState>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#buckets = loadBuckets(this.#sql);
    });
  }

  take(req: GlobalTake): GlobalDecision {
    const bucket = this.#bucket(req.channel);
    const outcome = takeShare(bucket, {
      tenantId: req.tenantId,
      weight: positive(req.weight) ?? 1,
      limits: [positive(req.limits.requests_per_minute), positive(req.limits.tokens_per_minute)],
      tokens: Math.max(0, Math.floor(req.tokens ?? 0)),
      now: Math.floor(req.now ?? Date.now()),
    });
    this.ctx.storage.transactionSync(() => {
      if (outcome.rolled) dropInactive(this.#sql, req.channel, bucket.window);
      saveBucket(this.#sql, req.channel, bucket);
      saveShare(this.#sql, req.channel, req.tenantId, outcome.share);
    });
    const { decision } = outcome;
    const result: GlobalDecision = { ok: decision.ok, retryAfterMs: decision.retryAfterMs, windowStart: decision.windowStart };
    if (decision.refusedBy !== undefined) result.reason = decision.refusedBy === 0 ? "requests" : "tokens";
    if (decision.remaining[0] !== undefined) result.remainingRequests = decision.remaining[0];
    if (decision.remaining[1] !== undefined) result.remainingTokens = decision.remaining[1];
    return result;
  }

  refund(req: GlobalRefund): boolean {
    const bucket = this.#bucket(req.channel);
    const share = refundShare(bucket, req.tenantId, req.windowStart, Math.max(0, Math.floor(req.tokens ?? 0)));
    if (!share) return false;
    this.ctx.storage.transactionSync(() => {
      saveBucket(this.#sql, req.channel, bucket);
      saveShare(this.#sql, req.channel, req.tenantId, share);
    });
    return true;
  }

  /** For operators and tests: the channel's current window, as stored. */
  snapshot(channel: string): GlobalBucketSnapshot {
    const bucket = this.#bucket(channel);
    return { window: bucket.window, usedRequests: bucket.used[0], usedTokens: bucket.used[1], tenants: Object.fromEntries(bucket.tenants) };
  }

  #bucket(channel: string): BucketState {
    let bucket = this.#buckets.get(channel);
    if (!bucket) this.#buckets.set(channel, (bucket = emptyBucket()));
    return bucket;
  }
}
