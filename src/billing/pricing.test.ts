// Pricing each reported usage part at its own price, rounding up once per side, never below zero and never throwing.
import { describe, expect, it } from "vitest";
import { PricingSchema } from "../config/schemas";
import { costMicros } from "./pricing";
import { billableUsage } from "./billable-usage";
import { preset } from "../providers/fixtures/openai";

const base = PricingSchema.parse({ input_per_million_micros: 1_000_000, output_per_million_micros: 2_000_000 });
const full = PricingSchema.parse({
  input_per_million_micros: 1_000_000,
  output_per_million_micros: 2_000_000,
  cached_input_per_million_micros: 500_000,
  cache_write_per_million_micros: 1_250_000,
  audio_input_per_million_micros: 10_000_000,
  audio_output_per_million_micros: 20_000_000,
  web_search_per_call_micros: 10_000,
  priority: { input_per_million_micros: 2_000_000, output_per_million_micros: 4_000_000, cached_input_per_million_micros: 1_000_000 },
});

describe("costMicros", () => {
  it("without details: input and output each rounded up, plus the per-request price", () => {
    expect(costMicros(base, { inputTokens: 8, outputTokens: 130 })).toBe(268);
    expect(costMicros({ ...base, input_per_million_micros: 1, per_request_micros: 7 }, { inputTokens: 1, outputTokens: 0 })).toBe(8);
  });

  it("prices each reported part at its own price, the rest at the plain price", () => {
    const details = { cachedInputTokens: 3, audioInputTokens: 5, reasoningTokens: 40, audioOutputTokens: 7, serviceTier: "default" };
    // input: 3 x 0.5 + 5 x 10 + 4 x 1 = 55.5 -> 56; output: 7 x 20 + 40 x 2 + 10 x 2 = 240
    expect(costMicros(full, { inputTokens: 12, outputTokens: 57, details })).toBe(296);
    // priority: input 3 x 1 + 5 x 10 + 4 x 2 = 61; output 7 x 20 + 40 x 4 + 10 x 4 = 340; one search 10,000
    expect(costMicros(full, { inputTokens: 12, outputTokens: 57, details: { ...details, serviceTier: "priority", webSearchCalls: 1 } })).toBe(10_401);
  });

  it("unset part prices fall back to the plain (or the tier's) price; no priority prices means base prices", () => {
    const details = { cachedInputTokens: 3, cacheWriteInputTokens: 2, audioInputTokens: 5, reasoningTokens: 40, audioOutputTokens: 7 };
    expect(costMicros(base, { inputTokens: 12, outputTokens: 57, details })).toBe(costMicros(base, { inputTokens: 12, outputTokens: 57 }));
    expect(costMicros(base, { inputTokens: 12, outputTokens: 57, details: { ...details, serviceTier: "priority", webSearchCalls: 3 } })).toBe(12 + 114);
  });

  it("hostile figures: parts beyond the total, negative, fractional, NaN or huge never throw, never undercharge the total", () => {
    expect(costMicros(full, { inputTokens: 10, outputTokens: 10, details: { cachedInputTokens: 1e9, reasoningTokens: -5 } })).toBe(5 + 20);
    expect(costMicros(full, { inputTokens: 10.7, outputTokens: Number.NaN, details: { webSearchCalls: 1.9, audioInputTokens: Number.POSITIVE_INFINITY } })).toBe(10 + 10_000);
    expect(costMicros(full, { inputTokens: -3, outputTokens: 0 })).toBe(0);
    expect(costMicros(base, { inputTokens: 2 ** 53, outputTokens: 0 })).toBe(2 ** 53);
  });
});

describe("billableUsage", () => {
  const target = preset({ extra_fields: ["service_tier", "web_search_options"], pricing: full });
  const usage = { inputTokens: 10, outputTokens: 10, estimated: false };

  it("a forwarded web_search_options counts one search when the report has none; a forwarded priority request is priority unless reported otherwise", () => {
    expect(billableUsage(usage, { web_search_options: {}, service_tier: "priority" }, target).details).toEqual({ webSearchCalls: 1, serviceTier: "priority" });
    expect(billableUsage({ ...usage, details: { webSearchCalls: 3, serviceTier: "default" } }, { web_search_options: {}, service_tier: "priority" }, target).details).toEqual({ webSearchCalls: 3, serviceTier: "default" });
  });

  it("fields the preset does not forward change nothing", () => {
    expect(billableUsage(usage, { web_search_options: {}, service_tier: "priority" }, preset())).toEqual(usage);
    expect(billableUsage(usage, { service_tier: "flex" }, target).details).toEqual({});
  });
});
