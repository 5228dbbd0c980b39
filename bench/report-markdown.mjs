// The benchmark's full report (bench/results/latest.md) from a summary (report.mjs): added latency,
// throughput and CPU (the split gateway's Worker process apart from its Durable Objects and consumers),
// streams per chunk, ratios and costs, issue 17's targets, problems.
import { ARM_LABELS, ARM_RUNTIME, ARM_STATE, armLabel, STREAM_ONLY_ARMS } from "./arms.mjs";
import { baselineLines, cacheLines } from "./report-compare.mjs";
import { targetLines } from "./report-targets.mjs";

export const ms = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
export const spread = (s, digits = 2) => (s && Number.isFinite(s.median) ? `${ms(s.median, digits)} (${ms(s.min, digits)}–${ms(s.max, digits)})` : "–");
export const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
export const signed = (s, digits = 2) => (s && Number.isFinite(s.median) ? `${s.median >= 0 ? "+" : ""}${ms(s.median, digits)}` : "–");

/** "1,234" or "1,234 + 567" (Worker process + Durable Objects and consumers) for a CPU figure pair. */
export function cpuCell(worker, state) {
  if (!Number.isFinite(worker?.median)) return "–";
  return Number.isFinite(state?.median) ? `${int(worker.median)} + ${int(state.median)}` : int(worker.median);
}

function header(summary, meta) {
  const peers = meta.versions?.portkey ? ` Peer: Portkey OSS ${meta.versions.portkey} from npm on Node ${meta.node}, its \`@hono/node-server\` pinned to ${meta.versions.portkeyNodeServer ?? "1.13.8"}.` : "";
  return `${meta.mode} run, ${meta.roundsRun ?? meta.rounds} interleaved rounds${meta.roundsRun !== undefined && meta.roundsRun < meta.rounds ? ` (of ${meta.rounds}; stopped to stay within the time budget)` : ""}, then the fixed-rate runs; ${meta.runtime}.${peers} Node ${meta.node}, ${meta.cpus} CPUs, load average ${meta.loadavg.map((l) => l.toFixed(2)).join(" ")} at start, ${meta.loadavgAtEnd.map((l) => l.toFixed(2)).join(" ")} at the end (above ~2 the machine was shared with other work and every figure is noisier). Added = arm minus direct in the same round; cells are the median over rounds, (min–max) where shown. Compare arms within this run only.${conditions(meta)}`;
}

/** What the run changed from the default conditions: the mock's latency, a baseline commit. */
function conditions(meta) {
  const latency = meta.settings?.mockLatencyMs ? ` The mock provider waited ${meta.settings.mockLatencyMs} ms before every answer (\`--mock-latency\`).` : "";
  const b = meta.baseline;
  const base = b ? ` Baseline: commit ${b.short} (\`--baseline ${b.ref}\`${b.subject ? `: ${b.subject.slice(0, 120)}` : ""}), bundled from its own tree and served in its own workerd processes like the current gateway; its arms are marked @ ${b.short}.` : "";
  return latency + base;
}

export function toMarkdown(summary, meta) {
  const label = (arm) => armLabel(arm, meta);
  const arms = Object.keys(summary.throughput).filter((a) => !STREAM_ONLY_ARMS.includes(a));
  const lines = [];
  lines.push(`# Gateway benchmark — ${meta.startedAt}`, "", header(summary, meta), "");
  lines.push("## Added latency (ms)", "", "| arm | c=1 p50 | c=1 p99 | c=16 p50 | c=16 p99 | c=64 p50 | c=64 p99 |", "|---|---|---|---|---|---|---|");
  const abs = summary.absolute;
  lines.push(`| ${ARM_LABELS.direct} (absolute) | ${spread(abs.c1?.direct?.p50, 3)} | ${spread(abs.c1?.direct?.p99, 3)} | ${ms(abs.c16?.direct?.p50.median, 3)} | ${ms(abs.c16?.direct?.p99.median, 3)} | ${ms(abs.c64?.direct?.p50.median, 3)} | ${ms(abs.c64?.direct?.p99.median, 3)} |`);
  for (const arm of arms.filter((a) => a !== "direct")) {
    const a = (p) => summary.added[p]?.[arm];
    lines.push(`| ${label(arm)} | ${spread(a("c1")?.p50, 3)} | ${spread(a("c1")?.p99, 3)} | ${signed(a("c16")?.p50)} | ${signed(a("c16")?.p99)} | ${signed(a("c64")?.p50)} | ${signed(a("c64")?.p99)} |`);
  }
  const ratePhases = Object.keys(summary.rate);
  lines.push("", "## Throughput, fixed rate, CPU and memory", "");
  lines.push("CPU µs/req at c=16: the process serving the arm; for the gateway, *Worker process + Durable Objects and consumers process* (the split runtime: the first is the Worker's own CPU, the figure a Workers bill depends on, plus workerd's HTTP and RPC plumbing; the second is the Durable Objects, queue consumers, Durable Object storage and queue simulators). Peak RSS likewise.", "");
  lines.push(`| arm | req/s c=16 | req/s c=64 | saturation req/s | ${ratePhases.map((p) => `${p.slice(4)}/s: ok / failed, p99 added`).join(" | ")} | CPU µs/req | peak RSS MB |`);
  lines.push(`|---|---|---|---|${ratePhases.map(() => "---|").join("")}---|---|`);
  for (const arm of arms) {
    const t = summary.throughput[arm];
    const rates = ratePhases.map((p) => {
      const r = summary.rate[p][arm];
      if (!r) return "–";
      const failed = r.non2xx + r.errors + r.timeouts;
      return `${int(r.ok)} / ${int(failed)}, ${arm === "direct" ? ms(abs[p]?.direct?.p99.median, 2) + " abs" : signed(summary.added[p]?.[arm]?.p99)}`;
    });
    const mem = summary.memory?.[arm === "direct" ? "mock" : ARM_RUNTIME[arm]];
    const stateMem = ARM_STATE[arm] ? summary.memory?.[ARM_STATE[arm]] : null;
    const memCell = mem ? `${ms(mem.peakMb, 0)}${stateMem ? ` + ${ms(stateMem.peakMb, 0)}` : ""}${arm === "direct" ? " (mock)" : ""}` : "–";
    const cpu = summary.cpu[arm];
    lines.push(`| ${label(arm)} | ${int(t.c16.median)} | ${int(t.c64.median)} | ${int(t.saturation.median)} | ${rates.join(" | ")} | ${arm === "direct" ? `mock: ${int(cpu.mock.median)}` : cpuCell(cpu.runtime, cpu.state)} | ${memCell} |`);
  }
  const chunks = Object.values(summary.stream.stream0 ?? {})[0]?.chunks ?? 50;
  lines.push("", `## Streaming (${chunks} chunks), added vs direct (ms)`, "");
  lines.push("CPU per streamed request at 0 ms gaps, as above (gateway: Worker process + Durable Objects and consumers); per chunk and × bare Worker on the Worker process alone. Anthropic-upstream arms are taken against the mock's Anthropic stream.", "");
  lines.push("| arm | TTFB p50, 0 ms gaps | TTFB p99, 0 ms | inter-chunk p99, 0 ms | TTFB p50, 20 ms gaps | inter-chunk p99, 20 ms | total p50, 0 ms | CPU µs/stream | CPU µs/chunk | × bare Worker |", "|---|---|---|---|---|---|---|---|---|---|");
  const bareStream = summary.stream.stream0?.bare;
  for (const arm of Object.keys(summary.stream.stream0 ?? {})) {
    const s0 = summary.stream.stream0[arm];
    const s20 = summary.stream.stream20?.[arm];
    const times = bareStream && Number.isFinite(bareStream.cpuUsPerStream.median) && bareStream.cpuUsPerStream.median > 0 ? `${ms(s0.cpuUsPerStream.median / bareStream.cpuUsPerStream.median, 1)}x` : "–";
    lines.push(`| ${label(arm)} | ${signed(s0.ttfbAddedP50, 3)} | ${signed(s0.ttfbAddedP99, 3)} | ${signed(s0.gapAddedP99, 3)} | ${signed(s20?.ttfbAddedP50, 3)} | ${signed(s20?.gapAddedP99, 3)} | ${signed(s0.totalAddedP50, 3)} | ${cpuCell(s0.cpuUsPerStream, s0.stateUsPerStream)} | ${ms(s0.cpuUsPerChunk?.median, 1)} | ${times} |`);
  }
  lines.push("", "## Ratios and costs", "");
  for (const [arm, r] of Object.entries(summary.limitRatio)) {
    const floor = summary.limitRatio.floor;
    const note =
      arm === "internal" ? ` Target: at most 1.5${floor ? `; the body-reading floor alone measured ${ms(floor.p50)}` : ""}.` : arm === "floor" ? " The least a proxy that reads the request and the answer costs in this runtime." : "";
    lines.push(`- **Limit ratio at c=1, ${label(arm)}**: ${ms(r.p50)} on p50 (per-round ${spread(r.perRoundP50)}), ${ms(r.p99)} on p99.${note}`);
  }
  if (Object.keys(summary.limitRatio).length === 0) lines.push("- Limit ratio: not measured (gateway arms did not run).");
  lines.push(...cacheLines(summary.cache, meta.settings?.mockLatencyMs), ...baselineLines(summary.baseline, label, meta.baseline));
  const ft = summary.formatTransform;
  lines.push(ft ? `- **Format transform on the stream path** (Anthropic upstream vs OpenAI upstream, internal channel, ${ft.chunks} chunks, 0 ms gaps): ${spread(ft.wallUsPerChunk, 1)} µs wall time added per chunk, ${spread(ft.cpuUsPerChunk, 1)} µs of gateway CPU (Worker process) per chunk.` : "- Format transform: not measured (gateway arms did not run).");
  const fp = summary.formatTransformPeer;
  if (fp) lines.push(`- **The peer's format transform** (Portkey, Anthropic upstream vs OpenAI upstream, same measure): ${spread(fp.wallUsPerChunk, 1)} µs wall time added per chunk, ${spread(fp.cpuUsPerChunk, 1)} µs of Portkey's CPU per chunk.`);
  const gen = summary.generator;
  if (gen) lines.push(`- **Load generator**: signing costs ${ms(gen.signingUsPerRequest, 1)} µs of CPU per request (measured); generator CPU per request at c=16: ${arms.map((a) => `${a} ${int(summary.cpu[a].generator.median)} µs`).join(", ")}.`);
  const c = summary.consumer;
  if (c && !c.error) {
    lines.push(`- **Consumer throughput**: ${c.messages.toLocaleString("en-US")} billing events each delivered twice (${c.deliveries.toLocaleString("en-US")} deliveries, in packs of 150 events per queue message as the gateway sends them) -> ${c.rows.toLocaleString("en-US")} ledger rows in ${c.seconds.toFixed(1)} s: **${Math.round(c.rowsPerSecond).toLocaleString("en-US")} rows/s** into the local Postgres, ${c.cpuUsPerRow === null ? "–" : Math.round(c.cpuUsPerRow)} µs of CPU per row in the workerd process running the consumers (queue simulator included).`);
  } else {
    lines.push(`- **Consumer throughput** (ledger rows/s): ${c?.error ? `failed: ${c.error}` : "not measured in this run (no gateway arm)"}.`);
  }
  if (summary.targets) lines.push("", "## Targets (issue 17)", "", ...targetLines(summary.targets));
  if (summary.problems?.length) {
    lines.push("", "## Problems", "");
    for (const p of summary.problems) lines.push(`- ${p}`);
  }
  return lines.join("\n") + "\n";
}
