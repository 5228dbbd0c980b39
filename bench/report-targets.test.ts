// The report's newer figures on synthetic runs: the split gateway's CPU (Worker process apart from its
// Durable Objects and consumers), per-chunk stream CPU, the peer's rows and translated path, issue 17's
// targets, and the README block written between its markers.
import { describe, expect, it } from "vitest";
import { summarize, toMarkdown } from "./report.mjs";
import { END, readmeBlock, spliceReadme, START } from "./report-readme.mjs";
import { parseArgs } from "./config.mjs";
import { armWanted } from "./arms.mjs";
import { phasesFor } from "./rounds.mjs";

const lat = (p50: number, p99: number) => ({ n: 100, p50, p90: p99, p99, max: p99, mean: p50 });
const CHUNKS = 100;
const SETTINGS = { rounds: 2, stream0: { chunks: CHUNKS }, stream20: { chunks: CHUNKS } };
// Per arm: added c=1 p50 and p99 (ms), req/s at c=16, CPU µs per request (serving process, second
// process), stream TTFB added (ms) and CPU per stream (serving process, second process).
const ARMS = {
  direct: { p50: 0, p99: 0, rps: 5000, cpu: [0, null], ttfb: 0, stream: [0, null] },
  bare: { p50: 0.2, p99: 0.6, rps: 4000, cpu: [100, null], ttfb: 0.3, stream: [1000, null] },
  internal: { p50: 0.5, p99: 2.0, rps: 1500, cpu: [500, 200], ttfb: 0.7, stream: [1800, 300] },
  external_unsigned: { p50: 1.0, p99: 6.0, rps: 900, cpu: [900, 400], ttfb: 1.0, stream: [2500, 500] },
  node_proxy: { p50: 0.1, p99: 0.4, rps: 9000, cpu: [80, null], ttfb: 0.2, stream: [600, null] },
  portkey: { p50: 1.3, p99: 10, rps: 850, cpu: [1200, null], ttfb: 29, stream: [4000, null] },
} as const;

function records() {
  const out: object[] = [];
  for (let round = 1; round <= 2; round++) {
    const direct = 0.2 + round * 0.01;
    for (const [arm, a] of Object.entries(ARMS)) {
      const cpu = ([runtime, state]: readonly [number, number | null]) => ({ runtime, state, mock: 50, generator: 30, database: 0 });
      for (const phase of ["c1", "c16", "c64"]) {
        out.push({ round, phase, arm, cpuUsPerRequest: cpu(a.cpu), result: { kind: "closed", requests: 100, ok: 100, non2xx: 0, errors: 0, timeouts: 0, rps: a.rps, latencyMs: lat(direct + a.p50, direct + 1 + a.p99) } });
      }
      const stream = { kind: "stream", ok: 10, errors: 0, ttfbMs: lat(1 + a.ttfb, 1 + a.ttfb), gapMs: lat(0.01, 0.05), totalMs: lat(5 + a.ttfb, 5 + a.ttfb) };
      out.push({ round, phase: "stream0", arm, cpuUsPerRequest: cpu(a.stream), result: stream });
    }
    // Translated paths: +2 ms over the whole stream (20 µs per chunk) and +1,000 µs of CPU per stream for
    // the gateway (10 µs per chunk); Portkey +3 ms and +2,000 µs.
    const anth = (ttfb: number, total: number) => ({ kind: "stream", ok: 10, errors: 0, ttfbMs: lat(ttfb, ttfb), gapMs: lat(0.01, 0.05), totalMs: lat(total, total) });
    out.push({ round, phase: "stream0", arm: "direct_anthropic", cpuUsPerRequest: { runtime: 0, state: null }, result: anth(1.5, 6) });
    out.push({ round, phase: "stream0", arm: "internal_anthropic", cpuUsPerRequest: { runtime: 2800, state: 350 }, result: anth(1.5 + 0.8, 6 + 0.7 + 2) });
    out.push({ round, phase: "stream0", arm: "portkey_anthropic", cpuUsPerRequest: { runtime: 6000, state: null }, result: anth(1.5 + 29, 6 + 29 + 3) });
  }
  return out;
}

const summary = summarize(records(), SETTINGS, { memory: {}, problems: [] });
const META = { startedAt: "2026-12-02T10:00:00.000Z", finishedAt: "2026-12-02T10:08:20.000Z", mode: "default", rounds: 2, roundsRun: 2, runtime: "workerd", node: "v20", cpus: 2, loadavg: [1.2, 1, 1], loadavgAtEnd: [1.5, 1, 1], versions: { portkey: "1.15.2", portkeyNodeServer: "1.13.8" } };

describe("CPU split and per-chunk stream figures", () => {
  it("keeps the Worker process apart from its Durable Objects and consumers, and adds them up per round", () => {
    expect(summary.cpu.internal.runtime.median).toBe(500);
    expect(summary.cpu.internal.state.median).toBe(200);
    expect(summary.cpu.internal.total.median).toBe(700);
    // An arm without a second process has no state figure; its total is its own CPU.
    expect(summary.cpu.portkey.state.n).toBe(0);
    expect(summary.cpu.portkey.total.median).toBe(1200);
  });

  it("divides the CPU per stream by the configured chunk count", () => {
    expect(summary.stream.stream0.internal.cpuUsPerChunk.median).toBeCloseTo(18);
    expect(summary.stream.stream0.internal.stateUsPerStream.median).toBe(300);
    expect(summary.stream.stream0.internal.totalUsPerStream.median).toBe(2100);
    expect(summary.stream.stream0.portkey.stateUsPerStream).toBeNull();
  });

  it("takes the translated paths against the mock's Anthropic stream, for the gateway and the peer", () => {
    expect(summary.stream.stream0.portkey_anthropic.ttfbAddedP50.median).toBeCloseTo(29);
    expect(summary.formatTransform.wallUsPerChunk.median).toBeCloseTo(20);
    expect(summary.formatTransform.cpuUsPerChunk.median).toBeCloseTo(10);
    expect(summary.formatTransformPeer.wallUsPerChunk.median).toBeCloseTo(30);
    expect(summary.formatTransformPeer.cpuUsPerChunk.median).toBeCloseTo(20);
  });
});

describe("issue 17's targets", () => {
  const t = summary.targets;
  const by = (list: { arm: string }[], arm: string) => list.find((x) => x.arm === arm) as any;

  it("judges stream CPU on the Worker process against the bare Worker: 2x same format, 4x translated", () => {
    expect(by(t.streamCpu, "internal")).toMatchObject({ limit: 2, worker: 1.8, met: true });
    expect(by(t.streamCpu, "internal")!.total).toBeCloseTo(2.1);
    expect(by(t.streamCpu, "external_unsigned")).toMatchObject({ worker: 2.5, met: false });
    expect(by(t.streamCpu, "internal_anthropic")).toMatchObject({ limit: 4, worker: 2.8, met: true });
  });

  it("allows stream TTFB up to the bare Worker's added + 0.5 ms", () => {
    expect(by(t.streamTtfb, "internal").limit).toBeCloseTo(0.8);
    expect(by(t.streamTtfb, "internal").met).toBe(true);
    expect(by(t.streamTtfb, "external_unsigned").met).toBe(false);
  });

  it("sets the external channel against the peer: added p50, req/s at c=16, CPU with and without the second process", () => {
    const p = by(t.peer, "external_unsigned");
    expect(p.addedP50).toMatchObject({ met: true });
    expect(p.addedP50.value).toBeCloseTo(1.0);
    expect(p.addedP50.peer).toBeCloseTo(1.3);
    expect(p.rpsC16).toMatchObject({ value: 900, peer: 850, met: true });
    expect(p.cpu).toMatchObject({ worker: 900, total: 1300, peer: 1200, met: true, metWithState: false });
    expect(by(t.peer, "external")).toBeUndefined();
  });

  it("checks the c=1 tail: added p99 within 5x the added p50", () => {
    expect(by(t.tail, "internal").factor).toBeCloseTo(4);
    expect(by(t.tail, "internal").met).toBe(true);
    expect(by(t.tail, "external_unsigned").factor).toBeCloseTo(6);
    expect(by(t.tail, "external_unsigned").met).toBe(false);
  });

  it("states each target in the report with its verdict", () => {
    const md = toMarkdown(summary, META);
    expect(md).toContain("## Targets (issue 17)");
    expect(md).toContain("Stream CPU, gateway external, unsigned key: 2.5x the bare Worker's per streamed request (Worker process; 3.0x with its Durable Objects and consumers); target at most 2x: **not met**.");
    expect(md).toMatch(/\| gateway internal \|.*\| 1,800 \+ 300 \| 18\.0 \| 1\.8x \|$/m);
    expect(md).toMatch(/^\| Portkey OSS \(Node\) \| 850 \|.*\| 1,200 \| – \|$/m);
    expect(md).toContain("Portkey OSS 1.15.2 from npm");
  });
});

describe("README block", () => {
  const block = readmeBlock(summary, META);

  it("puts the peer's row beside ours, with the CPU split and the per-chunk figures", () => {
    expect(block.startsWith(START)).toBe(true);
    expect(block.endsWith(END)).toBe(true);
    expect(block).toContain(`CPU µs/stream (${CHUNKS} chunks)`);
    expect(block).toContain("| Portkey OSS (Node) | +1.30 ms | +10.0 ms | 850 | 1,200 | +29.00 ms | 4,000 | 40.0 |");
    expect(block).toContain("| gateway internal | +0.50 ms | +2.0 ms | 1,500 | 500 + 200 | +0.70 ms | 1,800 + 300 | 18.0 |");
    // Stream-only arms have no JSON figures.
    expect(block).toContain("| gateway internal, Anthropic upstream | – | – | – | – | +0.80 ms | 2,800 + 350 | 28.0 |");
    expect(block).toContain("2 interleaved rounds, 500 s;");
    expect(block).toContain("load average 1.2 at the start");
  });

  it("warns when other work shared the machine, and only then", () => {
    expect(block).not.toContain("Noisy run");
    const noisy = readmeBlock(summary, { ...META, loadavg: [10.1, 9, 7], loadavgAtEnd: [11.8, 10, 8] });
    expect(noisy).toContain("**Noisy run**: a load average up to 11.8 on 2 cores");
  });

  it("replaces only what lies between the markers", () => {
    const readme = `# Title\n\nintro\n\n${START}\nold table\n${END}\n\n## Next\n`;
    const out = spliceReadme(readme, block);
    expect(out.startsWith("# Title\n\nintro\n\n")).toBe(true);
    expect(out.endsWith("\n\n## Next\n")).toBe(true);
    expect(out).not.toContain("old table");
    expect(spliceReadme(out, block)).toBe(out);
    expect(() => spliceReadme("# no markers\n", block)).toThrow(/bench-table/);
  });
});

describe("settings", () => {
  it("runs the peers by default, and --chunks, --no-peers, --single-process and --readme change the run", () => {
    expect(parseArgs([]).arms).toEqual(expect.arrayContaining(["node_proxy", "portkey"]));
    const s = parseArgs(["--chunks", "200", "--no-peers", "--single-process", "--readme"]);
    expect([s.stream0.chunks, s.stream20.chunks]).toEqual([200, 200]);
    expect(s.arms).not.toContain("portkey");
    expect(s.split).toBe(false);
    expect(s.readme).toBe(true);
    expect(() => parseArgs(["--chunks", "0"])).toThrow(/positive integers/);
  });

  it("gives the mock enough words for every chunk asked for", () => {
    const stream0 = (chunks: number) => phasesFor(parseArgs(["--chunks", String(chunks)])).find((p: { name: string }) => p.name === "stream0").mock;
    expect(stream0(50)).toEqual({ completion_tokens: 130, chunks: 50, chunk_delay_ms: 0 });
    expect(stream0(500)).toEqual({ completion_tokens: 500, chunks: 500, chunk_delay_ms: 0 });
  });

  it("brings each translated-stream arm along with its parent arm only", () => {
    expect(armWanted("portkey_anthropic", ["direct", "portkey"])).toBe(true);
    expect(armWanted("portkey_anthropic", ["direct", "internal"])).toBe(false);
    expect(armWanted("internal_anthropic", ["direct", "internal"])).toBe(true);
    expect(armWanted("direct_anthropic", ["direct"])).toBe(true);
  });
});
