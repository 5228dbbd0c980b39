// Comparisons of two arms of the same run, round by round: what the response cache saves (a hit
// against the direct call and against a miss), and the gateway against a previous commit of itself
// (`--baseline <ref>`: each channel against its `@base` arm, with issue 14's 5% tolerance).
import { BASELINE_ARMS, BASELINE_SUFFIX } from "./arms.mjs";
import { acrossRounds } from "./stats.mjs";

/** How far a channel may move from its baseline and still count as unchanged (issue 14). */
export const BASELINE_TOLERANCE = 0.05;

/** Per round, f(run of a, run of b) where both answered; the rounds in ascending order. */
function perRound(records, phase, a, b, f) {
  const runs = (arm) => new Map(records.filter((r) => r.phase === phase && r.arm === arm && r.result.ok > 0).map((r) => [r.round, r]));
  const ra = runs(a);
  const rb = runs(b);
  return [...ra.keys()].sort((x, y) => x - y).filter((round) => rb.has(round)).map((round) => f(ra.get(round), rb.get(round)));
}

const p50 = (r) => r.result.latencyMs.p50;

/**
 * The response cache at c=1, p50 differences in ms within each round (median and spread over rounds):
 * a hit against the direct call (what a hit adds, or saves when the provider is slow) and against a
 * miss (what a hit saves over calling the provider through the gateway). Null when the hit arm did not run.
 */
export function cacheFigures(records) {
  const diff = (a, b) => acrossRounds(perRound(records, "c1", a, b, (x, y) => p50(x) - p50(y)));
  const hitVsDirect = diff("external_cache_hit", "direct");
  if (hitVsDirect.n === 0) return null;
  return { hitVsDirect, hitVsMiss: diff("external_cache_hit", "external_cache_miss"), missVsDirect: diff("external_cache_miss", "direct") };
}

/** "within" when |ratio - 1| <= tolerance; else whether the current commit is better or worse. */
function verdict(ratio, higherIsBetter) {
  if (!Number.isFinite(ratio)) return null;
  if (Math.abs(ratio - 1) <= BASELINE_TOLERANCE) return "within";
  return ratio > 1 === higherIsBetter ? "better" : "worse";
}

/**
 * Each channel against its `@base` arm: p50 at c=1 and req/s at c=16, the ratio current / baseline
 * taken within each round (the two ran seconds apart) and its median over rounds, with the verdict
 * against the 5% tolerance. Channels whose baseline arm did not run are left out.
 */
export function baselineComparison(records) {
  const out = {};
  for (const arm of BASELINE_ARMS) {
    const base = arm + BASELINE_SUFFIX;
    const figure = (phase, value, higherIsBetter) => {
      const current = acrossRounds(perRound(records, phase, arm, base, (a) => value(a)));
      const baseline = acrossRounds(perRound(records, phase, arm, base, (_, b) => value(b)));
      const ratio = acrossRounds(perRound(records, phase, arm, base, (a, b) => value(a) / value(b)));
      return current.n ? { current, baseline, ratio, verdict: verdict(ratio.median, higherIsBetter) } : null;
    };
    const p50C1 = figure("c1", p50, false);
    const rpsC16 = figure("c16", (r) => r.result.rps, true);
    if (p50C1 || rpsC16) out[arm] = { p50C1, rpsC16 };
  }
  return Object.keys(out).length ? out : null;
}

const f = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const sf = (v, digits = 2) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(digits)}` : "–");
const spread = (s, digits) => `${sf(s.median, digits)} (${sf(s.min, digits)} to ${sf(s.max, digits)})`;

/** The report's line for the response cache, or none. */
export function cacheLines(cache, mockLatencyMs) {
  if (!cache) return [];
  return [
    `- **Response cache at c=1** (mock provider at ${mockLatencyMs ?? 0} ms; p50, per round, median (min to max) over rounds): a hit ${spread(cache.hitVsDirect, 2)} ms against the direct call, ${spread(cache.hitVsMiss, 2)} ms against a miss through the gateway; a miss ${spread(cache.missVsDirect, 2)} ms against the direct call.`,
  ];
}

function verdictText(v, ratio) {
  const pct = f(Math.abs(ratio - 1) * 100, 1);
  if (v === "within") return `within ${BASELINE_TOLERANCE * 100}%`;
  if (v === "better") return `**better by ${pct}%** (beyond ${BASELINE_TOLERANCE * 100}%)`;
  if (v === "worse") return `**worse by ${pct}%** (not within ${BASELINE_TOLERANCE * 100}%)`;
  return "not measured";
}

/**
 * The report's lines comparing each channel with the baseline commit, or none. The verdict rests on the
 * median of the per-round ratios (each a pair run seconds apart); the ratio of the two medians is shown
 * beside it, since on a noisy machine the two can fall on different sides of 1.
 */
export function baselineLines(comparison, label, baseline) {
  if (!comparison) return [];
  const lines = [];
  for (const [arm, c] of Object.entries(comparison)) {
    const part = (x, what, unit, digits) =>
      x ? `${what} ${f(x.current.median, digits)} vs ${f(x.baseline.median, digits)} ${unit}, ratio ${f(x.ratio.median, 3)} (per round ${f(x.ratio.min, 3)}–${f(x.ratio.max, 3)}; of the medians ${f(x.current.median / x.baseline.median, 3)}): ${verdictText(x.verdict, x.ratio.median)}` : `${what}: not measured`;
    lines.push(`- **Against the baseline ${baseline?.short ?? ""}**, ${label(arm)}: ${part(c.p50C1, "p50 at c=1", "ms", 3)}; ${part(c.rpsC16, "req/s at c=16", "req/s", 0)}.`);
  }
  return lines;
}
