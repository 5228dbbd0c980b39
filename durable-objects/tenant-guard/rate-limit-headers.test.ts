// x-ratelimit-* headers from a guard snapshot, in OpenAI's format.
import { describe, expect, it } from "vitest";
import { formatReset, rateLimitHeaders } from "./rate-limit-headers";

describe("rateLimitHeaders", () => {
  it("formats durations like OpenAI", () => {
    expect([0, 20, 999, 1_000, 1_500, 59_999, 60_000, 360_000, 61_250].map(formatReset)).toEqual([
      "0ms", "20ms", "999ms", "1s", "1.5s", "59.999s", "1m0s", "6m0s", "1m1.25s",
    ]);
  });

  it("sends only the limits that exist", () => {
    expect(rateLimitHeaders({})).toEqual({});
    expect(rateLimitHeaders({ limitRequests: 30, remainingRequests: 0, resetRequestsMs: 1_200 })).toEqual({
      "x-ratelimit-limit-requests": "30",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "1.2s",
    });
    expect(rateLimitHeaders({ limitTokens: 10_000, remainingTokens: 9_600, resetTokensMs: 60_000 })).toEqual({
      "x-ratelimit-limit-tokens": "10000",
      "x-ratelimit-remaining-tokens": "9600",
      "x-ratelimit-reset-tokens": "1m0s",
    });
  });
});
