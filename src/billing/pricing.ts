// Price of a request in integer micro-units, from the preset's pricing and the token usage.
import type { Pricing } from "../config/schemas";

const MILLION = 1_000_000n;

/** Rounds each part up to a whole micro-unit; BigInt so large token counts times prices stay exact. */
export function costMicros(pricing: Pricing, usage: { inputTokens: number; outputTokens: number }): number {
  const input = (BigInt(usage.inputTokens) * BigInt(pricing.input_per_million_micros) + MILLION - 1n) / MILLION;
  const output = (BigInt(usage.outputTokens) * BigInt(pricing.output_per_million_micros) + MILLION - 1n) / MILLION;
  return Number(input + output + BigInt(pricing.per_request_micros));
}
