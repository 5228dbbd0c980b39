// Global limiter on Upstash Redis: one atomic Lua script per decision (EVALSHA, EVAL on NOSCRIPT).
import { Redis } from "@upstash/redis/cloudflare";
import { WINDOW_MS } from "./fair-share";
import { REFUND_SCRIPT, TAKE_SCRIPT } from "./redis-script";
import { GLOBAL_TIMEOUT_MS, type GlobalDecision, type GlobalLimiter, type GlobalRefund, type GlobalTake } from "./types";

export interface RedisLimiterOptions {
  url: string;
  token: string;
  /** Key prefix; the bucket of a channel is `${prefix}:global:${channel}`. Tests give each run its own. */
  prefix?: string;
  /** Each HTTP call is aborted after this long, so a hung connection is not left open (default GLOBAL_TIMEOUT_MS). */
  timeoutMs?: number;
}

type TakeReply = [ok: number, retryAfterMs: number, windowStart: number, refused: number, remainingRequests: number, remainingTokens: number];

/** Keys expire two windows after their last use: by then every tenant in them is inactive anyway. */
const KEY_TTL_MS = 3 * WINDOW_MS;

export function redisGlobalLimiter(opts: RedisLimiterOptions): GlobalLimiter {
  // No retries: the caller waits 250 ms at most and fails open, so a retry could only arrive too late.
  const timeoutMs = opts.timeoutMs ?? GLOBAL_TIMEOUT_MS;
  const redis = new Redis({ url: opts.url, token: opts.token, retry: false, enableTelemetry: false, signal: () => AbortSignal.timeout(timeoutMs) });
  const take = redis.createScript<TakeReply>(TAKE_SCRIPT);
  const refund = redis.createScript<number>(REFUND_SCRIPT);
  const prefix = opts.prefix ?? "gw:rl";
  const keyOf = (channel: string) => `${prefix}:global:${channel}`;
  const limitArg = (limit: number | undefined) => String(limit ?? -1);

  return {
    backend: "redis",
    async take(req: GlobalTake): Promise<GlobalDecision> {
      const now = Math.floor(req.now ?? Date.now());
      const args = [req.tenantId, String(req.weight), String(now), String(WINDOW_MS), limitArg(req.limits.requests_per_minute), limitArg(req.limits.tokens_per_minute), String(req.tokens ?? 0), String(KEY_TTL_MS)];
      const [ok, retryAfterMs, windowStart, refused, remainingRequests, remainingTokens] = await take.exec([keyOf(req.channel)], args);
      const decision: GlobalDecision = { ok: ok === 1, retryAfterMs, windowStart };
      if (refused === 1) decision.reason = "requests";
      if (refused === 2) decision.reason = "tokens";
      if (remainingRequests >= 0) decision.remainingRequests = remainingRequests;
      if (remainingTokens >= 0) decision.remainingTokens = remainingTokens;
      return decision;
    },
    async refund(req: GlobalRefund): Promise<void> {
      await refund.exec([keyOf(req.channel)], [req.tenantId, String(req.windowStart), String(req.tokens ?? 0), String(WINDOW_MS)]);
    },
  };
}
