// The README's benchmark block (between the `<!-- bench-table -->` markers) from one run's summary:
// our arms beside the peers, the CPU split, the per-chunk stream figures and issue 17's targets.
// `npm run bench -- --readme` writes it into README.md; every run writes bench/results/readme-table.md.
import { ARM_LABELS } from "./arms.mjs";
import { cpuCell, int, ms, signed } from "./report-markdown.mjs";
import { targetLines } from "./report-targets.mjs";

export const START = "<!-- bench-table -->";
export const END = "<!-- /bench-table -->";

/** Rows in the README's order: the peers, our reference Workers, the gateway, then the stream-only arms. */
const ROWS = ["node_proxy", "portkey", "portkey_installed", "bare", "floor", "internal", "external", "external_unsigned", "external_capped", "external_cache_hit", "external_cache_miss", "internal_anthropic", "portkey_anthropic"];

const when = (iso) => iso.replace("T", " ").slice(0, 16) + " UTC";
/** A load average above this many runnable tasks per core means other work shared the machine. */
const NOISY_LOAD_PER_CORE = 1;

export function readmeBlock(summary, meta) {
  const s0 = summary.stream.stream0 ?? {};
  const chunks = Object.values(s0)[0]?.chunks ?? 50;
  const seconds = meta.finishedAt ? Math.round((Date.parse(meta.finishedAt) - Date.parse(meta.startedAt)) / 1000) : null;
  const lines = [START];
  lines.push(
    `Run of ${when(meta.startedAt)} (\`npm run bench\`: ${meta.roundsRun ?? meta.rounds} interleaved rounds${seconds ? `, ${seconds} s` : ""}; ${meta.cpus} cores, load average ${meta.loadavg[0].toFixed(1)} at the start and ${meta.loadavgAtEnd[0].toFixed(1)} at the end; mock provider at ${meta.settings?.mockLatencyMs ?? 0} ms;`,
    `full tables in [bench/results/latest.md](bench/results/latest.md)). "Added" = arm minus direct to the mock, median over rounds.`,
    `Compare arms within a run only: these shared machines change speed from hour to hour.${meta.versions?.portkey ? ` Peer: Portkey OSS ${meta.versions.portkey} (npm, on Node ${meta.node}, \`@hono/node-server\` pinned to ${meta.versions.portkeyNodeServer ?? "1.13.8"}).` : ""}`,
    ...noiseWarning(meta),
    "",
    `| arm | added p50 c=1 | added p99 c=1 | req/s c=16 | CPU µs/req c=16 | stream TTFB added p50 | CPU µs/stream (${chunks} chunks) | CPU µs/chunk |`,
    "|---|---|---|---|---|---|---|---|",
  );
  for (const arm of ROWS) {
    const cpu = summary.cpu?.[arm];
    const st = s0[arm];
    if (!summary.throughput?.[arm] && !st) continue;
    const added = summary.added?.c1?.[arm];
    const json = summary.throughput?.[arm]?.c16 && Number.isFinite(summary.throughput[arm].c16.median);
    lines.push(
      `| ${ARM_LABELS[arm]} | ${json ? `${signed(added?.p50)} ms` : "–"} | ${json ? `${signed(added?.p99, 1)} ms` : "–"} | ${json ? int(summary.throughput[arm].c16.median) : "–"} | ${json ? cpuCell(cpu?.runtime, cpu?.state) : "–"} | ${st ? `${signed(st.ttfbAddedP50)} ms` : "–"} | ${st ? cpuCell(st.cpuUsPerStream, st.stateUsPerStream) : "–"} | ${st ? ms(st.cpuUsPerChunk?.median, 1) : "–"} |`,
    );
  }
  lines.push(
    "",
    "- CPU for the gateway is *Worker process + Durable Objects and consumers process*: the Durable Objects, queue consumers and Miniflare's storage and queue simulators run in a second workerd process, called over its debug port, so the first figure is the Worker's own (what a Workers bill depends on) plus workerd's HTTP and RPC plumbing. Per chunk: the Worker process's CPU per stream / chunks. Peers: their whole Node process.",
  );
  for (const [arm, r] of Object.entries(summary.limitRatio ?? {})) lines.push(`- Limit ratio at c=1 (added / bare Worker's added, p50), ${ARM_LABELS[arm]}: ${ms(r.p50)}.`);
  const ft = summary.formatTransform;
  if (ft) lines.push(`- Format transform on the stream path (Anthropic upstream vs OpenAI, internal channel): ${ms(ft.cpuUsPerChunk.median, 1)} µs of Worker CPU and ${ms(ft.wallUsPerChunk.median, 1)} µs wall per chunk${summary.formatTransformPeer ? `; Portkey's: ${ms(summary.formatTransformPeer.cpuUsPerChunk.median, 1)} µs CPU, ${ms(summary.formatTransformPeer.wallUsPerChunk.median, 1)} µs wall` : ""}.`);
  if (summary.targets) lines.push("", "Issue 17's targets in this run:", "", ...targetLines(summary.targets));
  lines.push(END);
  return lines.join("\n");
}

/** A warning line when the machine was busy with other work during the run (empty otherwise). */
export function noiseWarning(meta) {
  const peak = Math.max(meta.loadavg[0], meta.loadavgAtEnd[0]);
  if (!(peak > NOISY_LOAD_PER_CORE * meta.cpus)) return [];
  return [
    "",
    `**Noisy run**: a load average up to ${peak.toFixed(1)} on ${meta.cpus} cores means other work shared the machine; every figure moved between rounds, CPU per request included (contention adds context switches and cache misses to every process). Rerun on a quiet machine before quoting these figures; within the run, arms are still interleaved and comparable in order of magnitude.`,
  ];
}

/** README text with the block between the markers replaced; throws when the markers are missing. */
export function spliceReadme(readme, block) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} block`);
  return readme.slice(0, start) + block + readme.slice(end + END.length);
}
