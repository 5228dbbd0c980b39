// Circuit-breaker settings: the defaults, in one place, merged with a preset's optional `breaker` overrides.
import type { BreakerSettings } from "../../src/config/schemas";

export type BreakerConfig = Required<BreakerSettings>;

/** 50% failures over at least 10 calls in 60 s opens the breaker for 30 s, then 3 probes decide. */
export const DEFAULT_BREAKER_CONFIG: Readonly<BreakerConfig> = Object.freeze({
  failure_rate_threshold: 0.5,
  minimum_calls: 10,
  window_ms: 60_000,
  open_ms: 30_000,
  half_open_probes: 3,
  // Longer than any first byte may take (call_upstream gives up after 2 x the first-byte timeout).
  probe_timeout_ms: 60_000,
});

export function resolveBreakerConfig(overrides: BreakerSettings | undefined): BreakerConfig {
  const out: BreakerConfig = { ...DEFAULT_BREAKER_CONFIG };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value !== undefined) (out as Record<string, number>)[name] = value;
  }
  return out;
}
