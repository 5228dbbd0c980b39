// Turns the per-run records into the benchmark's figures (added latency = arm minus direct in the same
// round, medians and spreads over rounds, limit ratio, stream and format-transform costs, CPU split,
// issue 17's targets). The markdown is report-markdown.mjs, the README block report-readme.mjs.
import { ARM_STATE, STREAM_BASE } from "./arms.mjs";
import { baselineComparison, cacheFigures } from "./report-compare.mjs";
import { targets } from "./report-targets.mjs";
export { toMarkdown } from "./report-markdown.mjs";
import { acrossRounds, ratio } from "./stats.mjs";

const GATEWAY_ARMS = ["internal", "external", "external_unsigned", "external_capped", "external_cache_hit", "external_cache_miss", "internal@base", "external_unsigned@base"];
// Arms given a limit ratio: the body-reading floor (what touching a body costs at all) and the gateway's.
const RATIO_ARMS = ["floor", ...GATEWAY_ARMS];

function byKey(records) {
  const map = new Map();
  for (const r of records) map.set(`${r.round}|${r.phase}|${r.arm}`, r);
  return (round, phase, arm) => map.get(`${round}|${phase}|${arm}`);
}

/** Per-round values of f(arm run, baseline run), skipping rounds where either is missing or failed. */
function perRound(rounds, get, phase, arm, baseArm, f) {
  const out = [];
  for (const round of rounds) {
    const a = get(round, phase, arm);
    const b = baseArm ? get(round, phase, baseArm) : a;
    if (a && b && a.result.ok > 0 && b.result.ok > 0) out.push(f(a, b));
  }
  return out;
}

export function summarize(records, settings, extra) {
  const get = byKey(records);
  // Every round that has records (the fixed-rate runs carry the round after the last one).
  const rounds = [...new Set(records.map((r) => r.round))].sort((a, b) => a - b);
  const arms = [...new Set(records.map((r) => r.arm))];
  const phases = [...new Set(records.map((r) => r.phase))];
  const summary = { added: {}, absolute: {}, throughput: {}, rate: {}, stream: {}, cpu: {}, limitRatio: {}, formatTransform: null };

  for (const phase of phases.filter((p) => p === "c1" || p === "c16" || p === "c64" || p.startsWith("rate"))) {
    summary.added[phase] = {};
    summary.absolute[phase] = {};
    for (const arm of arms) {
      const lat = (r) => r.result.latencyMs;
      summary.absolute[phase][arm] = {
        p50: acrossRounds(perRound(rounds, get, phase, arm, null, (a) => lat(a).p50)),
        p99: acrossRounds(perRound(rounds, get, phase, arm, null, (a) => lat(a).p99)),
        rps: acrossRounds(perRound(rounds, get, phase, arm, null, (a) => a.result.rps ?? a.result.achievedRps)),
      };
      if (arm === "direct") continue;
      summary.added[phase][arm] = {
        p50: acrossRounds(perRound(rounds, get, phase, arm, "direct", (a, b) => lat(a).p50 - lat(b).p50)),
        p99: acrossRounds(perRound(rounds, get, phase, arm, "direct", (a, b) => lat(a).p99 - lat(b).p99)),
      };
    }
  }
  for (const arm of arms) {
    const rps = (phase) => perRound(rounds, get, phase, arm, null, (a) => a.result.rps);
    const c16 = rps("c16");
    const c64 = rps("c64");
    summary.throughput[arm] = {
      c16: acrossRounds(c16),
      c64: acrossRounds(c64),
      // Saturation: the best closed-loop throughput of the round (c=64 saturates 2 cores; c=16 may do better).
      saturation: acrossRounds(c16.map((v, i) => Math.max(v, c64[i] ?? 0))),
    };
    const cpu = (key) => acrossRounds(perRound(rounds, get, "c16", arm, null, (a) => a.cpuUsPerRequest[key] ?? NaN));
    // runtime: the process serving the requests (the split gateway's Worker process); state: its Durable
    // Objects, queue consumers and simulators; total: both, per round.
    const total = acrossRounds(perRound(rounds, get, "c16", arm, null, (a) => (a.cpuUsPerRequest.runtime ?? NaN) + (a.cpuUsPerRequest.state ?? 0)));
    summary.cpu[arm] = { runtime: cpu("runtime"), state: cpu("state"), total, mock: cpu("mock"), generator: cpu("generator") };
  }
  for (const phase of phases.filter((p) => p.startsWith("rate"))) {
    summary.rate[phase] = {};
    for (const arm of arms) {
      const runs = records.filter((r) => r.phase === phase && r.arm === arm).map((r) => r.result);
      const sum = (k) => runs.reduce((a, r) => a + (r[k] ?? 0), 0);
      summary.rate[phase][arm] = { requests: sum("requests"), ok: sum("ok"), non2xx: sum("non2xx"), errors: sum("errors"), timeouts: sum("timeouts"), maxInFlight: Math.max(0, ...runs.map((r) => r.maxInFlight ?? 0)) };
    }
  }
  for (const phase of phases.filter((p) => p.startsWith("stream"))) {
    summary.stream[phase] = {};
    const chunks = settings[phase]?.chunks ?? 50;
    for (const arm of arms.filter((a) => a !== "direct" && a !== "direct_anthropic")) {
      const base = STREAM_BASE[arm] ?? "direct";
      const diff = (f) => acrossRounds(perRound(rounds, get, phase, arm, base, (a, b) => f(a.result) - f(b.result)));
      if (!records.some((r) => r.phase === phase && r.arm === arm)) continue;
      const cpu = (f) => acrossRounds(perRound(rounds, get, phase, arm, null, (a) => f(a.cpuUsPerRequest)));
      summary.stream[phase][arm] = {
        chunks,
        ttfbAddedP50: diff((r) => r.ttfbMs.p50),
        ttfbAddedP99: diff((r) => r.ttfbMs.p99),
        gapAddedP99: diff((r) => r.gapMs.p99),
        totalAddedP50: diff((r) => r.totalMs.p50),
        perChunkAddedUs: diff((r) => (r.totalMs.p50 * 1e3) / chunks),
        // CPU per streamed request of the serving process (the split gateway's Worker process), per chunk,
        // and of the gateway's Durable Objects and consumers (null for arms without that second process).
        cpuUsPerStream: cpu((c) => c.runtime),
        cpuUsPerChunk: cpu((c) => c.runtime / chunks),
        stateUsPerStream: ARM_STATE[arm] ? cpu((c) => c.state ?? NaN) : null,
        totalUsPerStream: cpu((c) => c.runtime + (c.state ?? 0)),
      };
    }
  }
  summary.formatTransform = formatTransform(rounds, get, settings, "internal", "internal_anthropic");
  // The peer's translated path (Portkey, OpenAI client, Anthropic upstream) the same way.
  summary.formatTransformPeer = formatTransform(rounds, get, settings, "portkey", "portkey_anthropic");
  for (const arm of RATIO_ARMS) {
    const gw = summary.added.c1?.[arm];
    const bare = summary.added.c1?.bare;
    if (!gw || !bare) continue;
    const perRoundRatio = perRound(rounds, get, "c1", arm, "direct", (a, d) => {
      const b = get(a.round, "c1", "bare");
      return b ? ratio(a.result.latencyMs.p50 - d.result.latencyMs.p50, b.result.latencyMs.p50 - d.result.latencyMs.p50) : NaN;
    });
    summary.limitRatio[arm] = {
      p50: ratio(gw.p50.median, bare.p50.median),
      p99: ratio(gw.p99.median, bare.p99.median),
      perRoundP50: acrossRounds(perRoundRatio),
    };
  }
  summary.targets = targets(summary);
  summary.cache = cacheFigures(records);
  summary.baseline = baselineComparison(records);
  return { ...summary, ...extra };
}

/**
 * What a translated stream (Anthropic upstream, OpenAI client) adds over the same-format one through
 * the same proxy, per chunk: (translated - direct Anthropic) - (same-format - direct), total time p50,
 * and the difference in the proxy's CPU per stream. Null when either arm did not run.
 */
function formatTransform(rounds, get, settings, sameArm, translatedArm) {
  const chunks = settings.stream0.chunks;
  const wall = [];
  const cpu = [];
  for (const round of rounds) {
    const [anth, anthDirect, oai, oaiDirect] = [translatedArm, "direct_anthropic", sameArm, "direct"].map((a) => get(round, "stream0", a));
    if (![anth, anthDirect, oai, oaiDirect].every((r) => r && r.result.ok > 0)) continue;
    const added = (a, d) => a.result.totalMs.p50 - d.result.totalMs.p50;
    wall.push(((added(anth, anthDirect) - added(oai, oaiDirect)) * 1e3) / chunks);
    cpu.push((anth.cpuUsPerRequest.runtime - oai.cpuUsPerRequest.runtime) / chunks);
  }
  return wall.length ? { chunks, wallUsPerChunk: acrossRounds(wall), cpuUsPerChunk: acrossRounds(cpu) } : null;
}
