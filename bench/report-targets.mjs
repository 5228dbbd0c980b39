// Issue 17's acceptance figures, computed from one run's summary: stream CPU and TTFB against the bare
// passthrough Worker, the external channel against the peer (Portkey), and the c=1 tail. Each entry
// carries the measured value, the limit and whether it is met, so the report states them plainly.
import { ARM_LABELS } from "./arms.mjs";
import { ratio } from "./stats.mjs";

/** Same-format stream arms (CPU at most 2x the bare Worker's) and the translated one (at most 4x). */
const STREAM_ARMS = { internal: 2, external: 2, external_unsigned: 2, internal_anthropic: 4 };
const PEER = "portkey";
/** "Every step, unsigned key" is the external arm; the signed one is shown beside it. */
const EXTERNAL_ARMS = ["external_unsigned", "external"];
const TAIL_ARMS = ["internal", "external_unsigned", "external"];
const TAIL_FACTOR = 5;
const TTFB_MARGIN_MS = 0.5;

const med = (s) => s?.median ?? NaN;

/** @returns {{ streamCpu: object[], streamTtfb: object[], peer: object[], tail: object[] }} */
export function targets(summary) {
  const out = { streamCpu: [], streamTtfb: [], peer: [], tail: [] };
  const s0 = summary.stream?.stream0 ?? {};
  const bare = s0.bare;
  for (const [arm, limit] of Object.entries(STREAM_ARMS)) {
    const s = s0[arm];
    if (!s || !bare) continue;
    // The Worker's own CPU is the billed figure and the one judged; with its Durable Objects and
    // consumers it is shown too.
    const worker = ratio(med(s.cpuUsPerStream), med(bare.cpuUsPerStream));
    const total = ratio(med(s.totalUsPerStream), med(bare.cpuUsPerStream));
    out.streamCpu.push({ arm, limit, worker, total, met: worker <= limit });
    const ttfbLimit = med(bare.ttfbAddedP50) + TTFB_MARGIN_MS;
    out.streamTtfb.push({ arm, value: med(s.ttfbAddedP50), limit: ttfbLimit, met: med(s.ttfbAddedP50) <= ttfbLimit });
  }
  const peerAdded = med(summary.added?.c1?.[PEER]?.p50);
  const peerRps = med(summary.throughput?.[PEER]?.c16);
  const peerCpu = med(summary.cpu?.[PEER]?.runtime);
  for (const arm of EXTERNAL_ARMS) {
    if (!summary.throughput?.[arm] || !summary.throughput?.[PEER]) continue;
    const added = med(summary.added.c1?.[arm]?.p50);
    const rps = med(summary.throughput[arm].c16);
    const cpuWorker = med(summary.cpu[arm].runtime);
    const cpuTotal = med(summary.cpu[arm].total);
    out.peer.push({
      arm,
      addedP50: { value: added, peer: peerAdded, met: added < peerAdded },
      rpsC16: { value: rps, peer: peerRps, met: rps >= peerRps },
      cpu: { worker: cpuWorker, total: cpuTotal, peer: peerCpu, met: cpuWorker < peerCpu, metWithState: cpuTotal < peerCpu },
    });
  }
  for (const arm of TAIL_ARMS) {
    const a = summary.added?.c1?.[arm];
    if (!a) continue;
    const factor = ratio(med(a.p99), med(a.p50));
    out.tail.push({ arm, p50: med(a.p50), p99: med(a.p99), factor, met: factor <= TAIL_FACTOR });
  }
  return out;
}

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "–");
const sf = (v, d = 2) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(d)}` : "–");
const n = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const verdict = (met) => (met ? "met" : "**not met**");

/** Markdown bullets for the report's "Targets" section. */
export function targetLines(t) {
  const lines = [];
  for (const c of t.streamCpu) {
    lines.push(`- Stream CPU, ${ARM_LABELS[c.arm]}: ${f(c.worker, 1)}x the bare Worker's per streamed request (Worker process; ${f(c.total, 1)}x with its Durable Objects and consumers); target at most ${c.limit}x: ${verdict(c.met)}.`);
  }
  for (const c of t.streamTtfb) {
    lines.push(`- Stream TTFB added, ${ARM_LABELS[c.arm]}: ${sf(c.value)} ms; target at most the bare Worker's + ${TTFB_MARGIN_MS} ms = ${sf(c.limit)} ms: ${verdict(c.met)}.`);
  }
  for (const p of t.peer) {
    lines.push(
      `- ${ARM_LABELS[p.arm]} vs ${ARM_LABELS[PEER]}: added p50 c=1 ${sf(p.addedP50.value)} vs ${sf(p.addedP50.peer)} ms (${verdict(p.addedP50.met)}); req/s c=16 ${n(p.rpsC16.value)} vs ${n(p.rpsC16.peer)} (${verdict(p.rpsC16.met)}); CPU µs/req ${n(p.cpu.worker)} Worker process (${n(p.cpu.total)} with Durable Objects and consumers) vs ${n(p.cpu.peer)} (${verdict(p.cpu.met)}; with them: ${verdict(p.cpu.metWithState)}).`,
    );
  }
  for (const c of t.tail) {
    lines.push(`- Tail at c=1, ${ARM_LABELS[c.arm]}: added p99 ${sf(c.p99)} ms = ${f(c.factor, 1)}x the added p50 (${sf(c.p50)} ms); target at most ${TAIL_FACTOR}x: ${verdict(c.met)}.`);
  }
  if (lines.length === 0) lines.push("- Not measured (the gateway, the bare Worker or the peer did not run).");
  return lines;
}
