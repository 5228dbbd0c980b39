// Turns the per-run records into the benchmark's figures (added latency = arm minus direct in the same
// round, medians and spreads over rounds, limit ratio, stream and format-transform costs) and markdown.
import { ARM_LABELS, ARM_RUNTIME } from "./arms.mjs";
import { acrossRounds, median, ratio } from "./stats.mjs";

const GATEWAY_ARMS = ["internal", "external", "external_unsigned"];
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
    summary.cpu[arm] = { runtime: cpu("runtime"), mock: cpu("mock"), generator: cpu("generator") };
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
      const base = arm.endsWith("_anthropic") ? "direct_anthropic" : "direct";
      const diff = (f) => acrossRounds(perRound(rounds, get, phase, arm, base, (a, b) => f(a.result) - f(b.result)));
      if (!records.some((r) => r.phase === phase && r.arm === arm)) continue;
      summary.stream[phase][arm] = {
        ttfbAddedP50: diff((r) => r.ttfbMs.p50),
        ttfbAddedP99: diff((r) => r.ttfbMs.p99),
        gapAddedP99: diff((r) => r.gapMs.p99),
        totalAddedP50: diff((r) => r.totalMs.p50),
        perChunkAddedUs: diff((r) => (r.totalMs.p50 * 1e3) / chunks),
        cpuUsPerStream: acrossRounds(perRound(rounds, get, phase, arm, null, (a) => a.cpuUsPerRequest.runtime)),
      };
    }
  }
  const s0 = summary.stream.stream0;
  if (s0?.internal && s0?.internal_anthropic) {
    const chunks = settings.stream0.chunks;
    const wall = [];
    const cpu = [];
    for (const round of rounds) {
      const [anth, anthDirect, oai, oaiDirect] = ["internal_anthropic", "direct_anthropic", "internal", "direct"].map((a) => get(round, "stream0", a));
      if (![anth, anthDirect, oai, oaiDirect].every((r) => r && r.result.ok > 0)) continue;
      const added = (a, d) => a.result.totalMs.p50 - d.result.totalMs.p50;
      wall.push(((added(anth, anthDirect) - added(oai, oaiDirect)) * 1e3) / chunks);
      cpu.push((anth.cpuUsPerRequest.runtime - oai.cpuUsPerRequest.runtime) / chunks);
    }
    summary.formatTransform = { chunks, wallUsPerChunk: acrossRounds(wall), cpuUsPerChunk: acrossRounds(cpu) };
  }
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
  return { ...summary, ...extra };
}

const ms = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const spread = (s, digits = 2) => (s && Number.isFinite(s.median) ? `${ms(s.median, digits)} (${ms(s.min, digits)}–${ms(s.max, digits)})` : "–");
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const signed = (s, digits = 2) => (s && Number.isFinite(s.median) ? `${s.median >= 0 ? "+" : ""}${ms(s.median, digits)}` : "–");

export function toMarkdown(summary, meta) {
  const arms = Object.keys(summary.throughput).filter((a) => !a.endsWith("_anthropic"));
  const lines = [];
  lines.push(`# Gateway benchmark — ${meta.startedAt}`, "");
  lines.push(`${meta.mode} run, ${meta.roundsRun ?? meta.rounds} interleaved rounds${meta.roundsRun !== undefined && meta.roundsRun < meta.rounds ? ` (of ${meta.rounds}; stopped to stay within the time budget)` : ""}, then the fixed-rate runs; ${meta.runtime}. Node ${meta.node}, ${meta.cpus} CPUs, load average ${meta.loadavg.map((l) => l.toFixed(2)).join(" ")} at start, ${meta.loadavgAtEnd.map((l) => l.toFixed(2)).join(" ")} at the end (above ~2 the machine was shared with other work and every figure is noisier). Added = arm minus direct in the same round; cells are the median over rounds, (min–max) where shown. Compare arms within this run only.`, "");
  lines.push("## Added latency (ms)", "", "| arm | c=1 p50 | c=1 p99 | c=16 p50 | c=16 p99 | c=64 p50 | c=64 p99 |", "|---|---|---|---|---|---|---|");
  const abs = summary.absolute;
  lines.push(`| ${ARM_LABELS.direct} (absolute) | ${spread(abs.c1?.direct?.p50, 3)} | ${spread(abs.c1?.direct?.p99, 3)} | ${ms(abs.c16?.direct?.p50.median, 3)} | ${ms(abs.c16?.direct?.p99.median, 3)} | ${ms(abs.c64?.direct?.p50.median, 3)} | ${ms(abs.c64?.direct?.p99.median, 3)} |`);
  for (const arm of arms.filter((a) => a !== "direct")) {
    const a = (p) => summary.added[p]?.[arm];
    lines.push(`| ${ARM_LABELS[arm]} | ${spread(a("c1")?.p50, 3)} | ${spread(a("c1")?.p99, 3)} | ${signed(a("c16")?.p50)} | ${signed(a("c16")?.p99)} | ${signed(a("c64")?.p50)} | ${signed(a("c64")?.p99)} |`);
  }
  const ratePhases = Object.keys(summary.rate);
  lines.push("", "## Throughput, fixed rate, CPU and memory", "");
  lines.push(`| arm | req/s c=16 | req/s c=64 | saturation req/s | ${ratePhases.map((p) => `${p.slice(4)}/s: ok / failed, p99 added`).join(" | ")} | CPU µs/req (proxy) | peak RSS MB (proxy process) |`);
  lines.push(`|---|---|---|---|${ratePhases.map(() => "---|").join("")}---|---|`);
  for (const arm of arms) {
    const t = summary.throughput[arm];
    const rates = ratePhases.map((p) => {
      const r = summary.rate[p][arm];
      const failed = r.non2xx + r.errors + r.timeouts;
      return `${int(r.ok)} / ${int(failed)}, ${arm === "direct" ? ms(abs[p]?.direct?.p99.median, 2) + " abs" : signed(summary.added[p]?.[arm]?.p99)}`;
    });
    const mem = summary.memory?.[arm === "direct" ? "mock" : ARM_RUNTIME[arm]];
    lines.push(`| ${ARM_LABELS[arm]} | ${int(t.c16.median)} | ${int(t.c64.median)} | ${int(t.saturation.median)} | ${rates.join(" | ")} | ${arm === "direct" ? `mock: ${int(summary.cpu[arm].mock.median)}` : int(summary.cpu[arm].runtime.median)} | ${mem ? `${ms(mem.peakMb, 0)}${arm === "direct" ? " (mock)" : ""}` : "–"} |`);
  }
  lines.push("", "## Streaming (50 chunks), added vs direct (ms)", "", "| arm | TTFB p50, 0 ms gaps | TTFB p99, 0 ms | inter-chunk p99, 0 ms | TTFB p50, 20 ms gaps | inter-chunk p99, 20 ms | total p50, 0 ms | CPU µs/stream |", "|---|---|---|---|---|---|---|---|");
  for (const arm of Object.keys(summary.stream.stream0 ?? {})) {
    const s0 = summary.stream.stream0[arm];
    const s20 = summary.stream.stream20?.[arm];
    lines.push(`| ${ARM_LABELS[arm]} | ${signed(s0.ttfbAddedP50, 3)} | ${signed(s0.ttfbAddedP99, 3)} | ${signed(s0.gapAddedP99, 3)} | ${signed(s20?.ttfbAddedP50, 3)} | ${signed(s20?.gapAddedP99, 3)} | ${signed(s0.totalAddedP50, 3)} | ${int(s0.cpuUsPerStream.median)} |`);
  }
  lines.push("", "## Ratios and costs", "");
  for (const [arm, r] of Object.entries(summary.limitRatio)) {
    const floor = summary.limitRatio.floor;
    const note =
      arm === "internal" ? ` Target: at most 1.5${floor ? `; the body-reading floor alone measured ${ms(floor.p50)}` : ""}.` : arm === "floor" ? " The least a proxy that reads the request and the answer costs in this runtime." : "";
    lines.push(`- **Limit ratio at c=1, ${ARM_LABELS[arm]}**: ${ms(r.p50)} on p50 (per-round ${spread(r.perRoundP50)}), ${ms(r.p99)} on p99.${note}`);
  }
  if (Object.keys(summary.limitRatio).length === 0) lines.push("- Limit ratio: not measured (gateway arms did not run).");
  const ft = summary.formatTransform;
  lines.push(ft ? `- **Format transform on the stream path** (Anthropic upstream vs OpenAI upstream, internal channel, ${ft.chunks} chunks, 0 ms gaps): ${spread(ft.wallUsPerChunk, 1)} µs wall time added per chunk, ${spread(ft.cpuUsPerChunk, 1)} µs of gateway CPU per chunk.` : "- Format transform: not measured (gateway arms did not run).");
  const gen = summary.generator;
  if (gen) lines.push(`- **Load generator**: signing costs ${ms(gen.signingUsPerRequest, 1)} µs of CPU per request (measured); generator CPU per request at c=16: ${arms.map((a) => `${a} ${int(summary.cpu[a].generator.median)} µs`).join(", ")}.`);
  const c = summary.consumer;
  if (c && !c.error) {
    lines.push(`- **Consumer throughput**: ${c.messages.toLocaleString("en-US")} billing events each delivered twice (${c.deliveries.toLocaleString("en-US")} deliveries, in packs of 150 events per queue message as the gateway sends them) -> ${c.rows.toLocaleString("en-US")} ledger rows in ${c.seconds.toFixed(1)} s: **${Math.round(c.rowsPerSecond).toLocaleString("en-US")} rows/s** into the local Postgres, ${c.cpuUsPerRow === null ? "–" : Math.round(c.cpuUsPerRow)} µs of gateway workerd CPU per row (queue simulator included).`);
  } else {
    lines.push(`- **Consumer throughput** (ledger rows/s): ${c?.error ? `failed: ${c.error}` : "not measured in this run (no gateway arm)"}.`);
  }
  if (summary.problems?.length) {
    lines.push("", "## Problems", "");
    for (const p of summary.problems) lines.push(`- ${p}`);
  }
  return lines.join("\n") + "\n";
}
