// Turns the guard's RateLimitSnapshot into the OpenAI-style x-ratelimit-* response headers.
import type { RateLimitSnapshot } from "../../src/guard/types";

/** OpenAI's duration style: "20ms", "1.5s", "6m0s". */
export function formatReset(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1_000) return `${whole}ms`;
  const seconds = whole / 1_000;
  if (seconds < 60) return `${Number(seconds.toFixed(3))}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Number((seconds - minutes * 60).toFixed(3))}s`;
}

/** Only the limits that exist for the request are sent; absent levels send nothing. */
export function rateLimitHeaders(snapshot: RateLimitSnapshot): Record<string, string> {
  const out: Record<string, string> = {};
  if (snapshot.limitRequests !== undefined) {
    out["x-ratelimit-limit-requests"] = String(snapshot.limitRequests);
    out["x-ratelimit-remaining-requests"] = String(snapshot.remainingRequests ?? 0);
    out["x-ratelimit-reset-requests"] = formatReset(snapshot.resetRequestsMs ?? 0);
  }
  if (snapshot.limitTokens !== undefined) {
    out["x-ratelimit-limit-tokens"] = String(snapshot.limitTokens);
    out["x-ratelimit-remaining-tokens"] = String(snapshot.remainingTokens ?? 0);
    out["x-ratelimit-reset-tokens"] = formatReset(snapshot.resetTokensMs ?? 0);
  }
  return out;
}
