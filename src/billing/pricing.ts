// Price of a request in integer micro-units, from the preset's pricing and the usage the upstream reported:
// each reported part (cached, cache-write, audio, reasoning tokens; web searches; the priority tier) at
// its own price, falling back to the plain input or output price when the preset sets none.
import type { Pricing } from "../config/schemas";
import type { UsageDetails } from "../providers/types";

const MILLION = 1_000_000n;

/** A count as a BigInt: hostile figures (negative, fractional, not finite) never throw or go below zero. */
const count = (n: number | undefined): bigint => (typeof n === "number" && Number.isFinite(n) && n > 0 ? BigInt(Math.floor(n)) : 0n);

/** Splits `total` into the listed parts (each at most what is left) and the plain rest, as [tokens, price] pairs. */
function split(total: bigint, plainPrice: number, parts: [number | undefined, number][]): [bigint, number][] {
  let rest = total;
  const out: [bigint, number][] = [];
  for (const [n, price] of parts) {
    const take = count(n) < rest ? count(n) : rest;
    rest -= take;
    out.push([take, price]);
  }
  out.push([rest, plainPrice]);
  return out;
}

/** Rounds up to a whole micro-unit once per side (input, output); BigInt so large counts times prices stay exact. */
const priced = (pairs: [bigint, number][]) => (pairs.reduce((sum, [tokens, price]) => sum + tokens * BigInt(price), 0n) + MILLION - 1n) / MILLION;

/** The prices a request pays: a batch line pays the preset's batch prices where it sets them, else its normal prices. */
export function pricingOf(pricing: Pricing, batch: boolean): Pricing {
  const b = batch ? pricing.batch : undefined;
  if (!b) return pricing;
  return {
    ...pricing,
    input_per_million_micros: b.input_per_million_micros,
    output_per_million_micros: b.output_per_million_micros,
    cached_input_per_million_micros: b.cached_input_per_million_micros ?? pricing.cached_input_per_million_micros,
  };
}

export function costMicros(pricing: Pricing, usage: { inputTokens: number; outputTokens: number; details?: UsageDetails }): number {
  const d = usage.details ?? {};
  // The upstream's word for the tier that served the request; priority prices only when the preset has them.
  const tier = d.serviceTier === "priority" ? pricing.priority : undefined;
  const inputPrice = tier?.input_per_million_micros ?? pricing.input_per_million_micros;
  const outputPrice = tier?.output_per_million_micros ?? pricing.output_per_million_micros;
  const input = split(count(usage.inputTokens), inputPrice, [
    [d.cachedInputTokens, tier?.cached_input_per_million_micros ?? pricing.cached_input_per_million_micros ?? inputPrice],
    [d.cacheWriteInputTokens, pricing.cache_write_per_million_micros ?? inputPrice],
    [d.audioInputTokens, pricing.audio_input_per_million_micros ?? inputPrice],
  ]);
  const output = split(count(usage.outputTokens), outputPrice, [
    [d.audioOutputTokens, pricing.audio_output_per_million_micros ?? outputPrice],
    [d.reasoningTokens, pricing.reasoning_per_million_micros ?? outputPrice],
  ]);
  const searches = count(d.webSearchCalls) * BigInt(pricing.web_search_per_call_micros ?? 0);
  return Number(priced(input) + priced(output) + searches + BigInt(pricing.per_request_micros));
}
