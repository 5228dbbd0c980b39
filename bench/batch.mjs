#!/usr/bin/env node
// Batch inference figures (a script, not a timed test): `node bench/batch.mjs [--lines 10000] [--interactive 300] [--upload-mb 100]`.
// --interactive is the number of interactive requests measured without a batch (and the least with one).
// On the benchmark's stack (the gateway bundle on workerd through Miniflare, one process, the mock provider
// at 0 ms, a real ledger database), it measures:
//   1. lines per second of a LINES-line batch on the external channel, from POST /batches to "completed";
//   2. the interactive channel's added p50 at c=1 (gateway p50 minus the mock's own p50, requests to both
//      interleaved) sampled from a second batch's first line to its end, as a ratio to the same without a batch;
//   3. the gateway process's peak RSS (VmHWM) during a streamed UPLOAD_MB MB file upload.
// Prints the figures as JSON and as a Markdown table (docs/api/batches.md keeps the latest).
import { performance } from "node:perf_hooks";
import { startStack } from "./stack.mjs";
import { killChildren } from "./processes.mjs";
import { memoryKb, resetPeak } from "./proc-stats.mjs";
import { MOCK_API_KEY } from "./arms.mjs";
import { percentileSorted } from "./stats.mjs";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const LINES = arg("lines", 10_000);
const INTERACTIVE = arg("interactive", 300);
const UPLOAD_MB = arg("upload-mb", 100);
const log = (line) => process.stderr.write(`${line}\n`);

process.on("SIGINT", () => {
  killChildren();
  process.exit(130);
});

const jsonl = (n) => Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `l${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "mock-openai-chat", messages: [{ role: "user", content: `line ${i}` }] } })).join("\n") + "\n";

async function upload(base, key, content, name = "input.jsonl") {
  const form = new FormData();
  form.append("purpose", "batch");
  form.append("file", new Blob([content]), name);
  const res = await fetch(`${base}/external/v1/files`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`upload answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text).id;
}

async function call(base, key, method, path, body) {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function startBatch(base, key, lines) {
  const fileId = await upload(base, key, jsonl(lines));
  const started = performance.now();
  const batch = await call(base, key, "POST", "/external/v1/batches", { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" });
  return { id: batch.id, started };
}

async function waitDone(base, key, id) {
  for (;;) {
    const b = await call(base, key, "GET", `/external/v1/batches/${id}`);
    if (["completed", "cancelled", "expired", "failed"].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One chat request; its latency in ms. */
async function timed(url, headers, i) {
  const t = performance.now();
  const res = await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: `interactive ${i}` }] }) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`interactive request answered ${res.status}`);
  return performance.now() - t;
}

/**
 * c=1, alternating one request to the gateway and one straight to the mock (so both see the same moment's
 * load), at least `n` pairs and, when `until` is given, until it says stop: the p50 of each.
 */
async function interleavedP50(gateway, mock, n, until) {
  const g = [];
  const m = [];
  for (let i = 0; i < n || (until && !(await until(i))); i++) {
    g.push(await timed(gateway.url, gateway.headers, i));
    m.push(await timed(mock.url, mock.headers, i));
  }
  const p = (xs) => percentileSorted(xs.sort((a, b) => a - b), 50);
  return { gateway: p(g), mock: p(m), pairs: g.length };
}

async function main() {
  const stack = await startStack({ gateway: true, arms: [], split: false, log });
  try {
    if (stack.problems.length) log(stack.problems.join("\n"));
    const base = stack.host.gateway.url.replace(/\/$/, "");
    const key = stack.creds.unsigned.key;
    const pid = stack.pids.gateway;
    const chat = `${base}/external/v1/chat/completions`;
    const auth = { authorization: `Bearer ${key}` };
    const mockChat = `${stack.mock.url.replace(/\/$/, "")}/v1/chat/completions`;
    const mockAuth = { authorization: `Bearer ${MOCK_API_KEY}` };

    // 1. Throughput of a whole batch.
    log(`batch of ${LINES} lines...`);
    const first = await startBatch(base, key, LINES);
    const done = await waitDone(base, key, first.id);
    const seconds = (performance.now() - first.started) / 1000;
    if (done.status !== "completed" || done.request_counts.completed !== LINES) throw new Error(`batch ended ${done.status}: ${JSON.stringify(done.request_counts)}`);
    const linesPerSecond = LINES / seconds;
    log(`  ${LINES} lines in ${seconds.toFixed(1)} s: ${linesPerSecond.toFixed(0)} lines/s`);

    // 2. Interactive added p50 at c=1, without and with a batch running (sampled over the whole batch, so
    //    over its busy deliveries and the gaps between them alike).
    const gateway = { url: chat, headers: auth };
    const mock = { url: mockChat, headers: mockAuth };
    await interleavedP50(gateway, mock, 50); // warm-up
    const aloneRun = await interleavedP50(gateway, mock, INTERACTIVE);
    const second = await startBatch(base, key, LINES);
    for (;;) {
      const b = await call(base, key, "GET", `/external/v1/batches/${second.id}`);
      if (b.request_counts.completed > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    let status = "in_progress";
    const duringRun = await interleavedP50(gateway, mock, INTERACTIVE, async (i) => {
      if (i % 50 === 0) status = (await call(base, key, "GET", `/external/v1/batches/${second.id}`)).status;
      return status !== "in_progress";
    });
    await waitDone(base, key, second.id);
    const [alone, mockAlone, during, mockDuring] = [aloneRun.gateway, aloneRun.mock, duringRun.gateway, duringRun.mock];
    const addedAlone = alone - mockAlone;
    const addedDuring = during - mockDuring;

    // 3. Peak RSS of the gateway process during a streamed upload.
    const bytes = UPLOAD_MB * 1_000_000;
    const line = JSON.stringify({ custom_id: "x".repeat(8), method: "POST", url: "/v1/chat/completions", body: { model: "mock-openai-chat", messages: [{ role: "user", content: "y".repeat(900) }] } });
    const big = Buffer.alloc(bytes, " ");
    for (let at = 0; at + line.length + 1 <= bytes; at += line.length + 1) big.write(`${line}\n`, at);
    const before = memoryKb(pid);
    const reset = resetPeak(pid);
    const t = performance.now();
    await upload(base, key, big, "big.jsonl");
    const uploadSeconds = (performance.now() - t) / 1000;
    const after = memoryKb(pid);

    const figures = {
      lines: LINES,
      batch_seconds: Number(seconds.toFixed(2)),
      lines_per_second: Math.round(linesPerSecond),
      p50_ms: { gateway_alone: round(alone), mock_alone: round(mockAlone), gateway_during_batch: round(during), mock_during_batch: round(mockDuring) },
      added_p50_ms: { alone: round(addedAlone), during_batch: round(addedDuring) },
      added_p50_ratio: round(addedDuring / addedAlone),
      interactive_pairs: { alone: aloneRun.pairs, during_batch: duringRun.pairs },
      upload: { mb: UPLOAD_MB, seconds: round(uploadSeconds), rss_before_mib: round(before.rssKb / 1024), peak_rss_mib: round(after.peakKb / 1024), peak_reset: reset },
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    process.stdout.write(
      [
        "| figure | value |",
        "|---|---|",
        `| ${LINES}-line batch, mock at 0 ms | ${figures.lines_per_second} lines/s (${figures.batch_seconds} s) |`,
        `| interactive added p50 at c=1, alone (${aloneRun.pairs} requests) | ${figures.added_p50_ms.alone} ms |`,
        `| interactive added p50 at c=1, through a whole ${LINES}-line batch (${duringRun.pairs} requests) | ${figures.added_p50_ms.during_batch} ms (ratio ${figures.added_p50_ratio}) |`,
        `| gateway peak RSS during a ${UPLOAD_MB} MB upload | ${figures.upload.peak_rss_mib} MiB (before: ${figures.upload.rss_before_mib} MiB; upload ${figures.upload.seconds} s) |`,
      ].join("\n") + "\n",
    );
  } finally {
    await stack.stop();
    killChildren();
  }
}

const round = (n) => Math.round(n * 100) / 100;

main().catch((error) => {
  log(String(error?.stack ?? error));
  killChildren();
  process.exit(1);
});
