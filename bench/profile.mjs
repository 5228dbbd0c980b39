// `node bench/profile.mjs <arm> [--stream] [--state] [--requests N] [--connections C] [--chunks N] [--top N] [--interval µs]`:
// a V8 CPU profile of the proxy while one arm is under load, to find where its CPU goes. Gateway arms
// (internal, external, external_unsigned, internal_anthropic) profile the gateway Worker's isolate in
// the Worker process of the split runtime (its Durable Objects and queue consumers run in the other
// process and are not in the profile); Portkey arms (portkey, portkey_anthropic) profile Portkey's Node
// process. `--stream` (implied by *_anthropic) profiles streamed requests instead of JSON ones;
// `--state` also profiles the state process's isolate (Durable Objects, queue consumers).
// Prints µs per request (and per chunk for streams) by function and by source file or package, mapped
// to src/ through the bundle's source map, beside the process CPU read from /proc; writes
// bench/results/profile-<arm>-<time>.cpuprofile (open in Chrome DevTools).
import { copyFile, writeFile } from "node:fs/promises";
import path from "node:path";
import WebSocket from "ws";
import { ARM_RUNTIME, ARM_STATE } from "./arms.mjs";
import { closedLoop } from "./load.mjs";
import { freePort } from "./peer/start.mjs";
import { cpuMeter } from "./proc-stats.mjs";
import { killChildren, ROOT } from "./processes.mjs";
import { analyse, sourceMapper, table } from "./profile-analysis.mjs";
import { quiesce, setMockScenario, streamScenario } from "./rounds.mjs";
import { startStack } from "./stack.mjs";
import { streamRun } from "./stream-client.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const arm = argv.find((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--")) ?? "internal";
const stream = argv.includes("--stream") || arm.endsWith("_anthropic");
const requests = option("--requests", stream ? 300 : 2000);
const connections = option("--connections", 1);
const chunks = option("--chunks", 50);
const top = option("--top", 15);
const interval = option("--interval", 200);
const log = (line) => process.stderr.write(line + "\n");
const isPortkey = ARM_RUNTIME[arm] === "portkey";

/** A minimal DevTools protocol session on the first inspector target `pick` accepts. */
async function inspect(port, pick) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = list.find(pick);
  if (!target) throw new Error(`no matching inspector target among ${list.map((t) => t.id).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

const arms = isPortkey ? ["direct", "portkey"] : ["direct", arm === "internal_anthropic" ? "internal" : arm];
const inspectorPort = await freePort();
// The state process (Durable Objects, queue consumers) gets an inspector too: --state profiles it alongside.
const profileState = argv.includes("--state") && !isPortkey;
const stateInspectorPort = profileState ? await freePort() : undefined;
const stack = await startStack({ gateway: !isPortkey, arms, inspectorPort: isPortkey ? undefined : inspectorPort, stateInspectorPort, portkeyInspectPort: isPortkey ? inspectorPort : undefined, log });
try {
  const target = stack.targets[stream ? "stream" : "json"][arm];
  if (!target || stack.failedArms.has(arm)) throw new Error(`arm ${arm} is not a working ${stream ? "stream" : "JSON"} arm: ${stack.problems.join("; ")}`);
  const mock = stream ? streamScenario(chunks, 0) : { completion_tokens: 130 };
  await setMockScenario(stack.mock.url, mock);
  const load = () => (stream ? streamRun(target, { count: requests, concurrency: connections }) : closedLoop(target, { connections, amount: requests }));
  // Warm-up (JIT, pools, config caches), then wait for the consumers' batches to finish.
  await (stream ? streamRun(target, { count: 50, concurrency: 2 }) : closedLoop(target, { connections: 4, amount: 500 }));
  const pids = { runtime: stack.pids[ARM_RUNTIME[arm]], state: stack.pids[ARM_STATE[arm]] };
  await quiesce([pids.runtime, pids.state], 8000, 1100);
  const session = await inspect(inspectorPort, isPortkey ? (t) => t.type === "node" : (t) => t.id === "core:user:gateway" || /core:user:gateway$/.test(t.webSocketDebuggerUrl));
  // The Worker process's other isolates, profiled alongside: the KV simulator, and Miniflare's dev-registry
  // proxy (idle unless something calls the state process through Miniflare's own Durable Object proxies
  // instead of the debug port). Their running time is CPU of the Worker process that is not the gateway's.
  const others = [];
  if (!isPortkey) {
    for (const id of ["core:user:dev-registry-proxy", "kv:ns"]) {
      const other = await inspect(inspectorPort, (t) => t.id === id).catch(() => null);
      if (other) others.push({ id, session: other, detail: id.includes("dev-registry") });
    }
  }
  if (profileState) {
    const state = await inspect(stateInspectorPort, (t) => t.id === "core:user:gateway-state");
    others.push({ id: "core:user:gateway-state (state process: Durable Objects, queue consumers)", session: state, detail: true });
  }
  for (const { send } of [session, ...others.map((o) => o.session)]) {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval });
    await send("Profiler.start");
  }
  const meter = cpuMeter(pids);
  const result = await load();
  const { profile } = (await session.send("Profiler.stop")).result;
  for (const o of others) o.profile = (await o.session.send("Profiler.stop")).result.profile;
  const cpu = meter.stop();
  session.close();
  for (const o of others) o.session.close();
  const file = path.join(ROOT, "bench/results", `profile-${arm}${stream ? "-stream" : ""}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  // The bundle's temp dir goes with the stack: keep its source map beside the profile for later reading.
  if (stack.bundlePath) await copyFile(`${stack.bundlePath}.map`, `${file}.map`).catch(() => {});
  const n = result.requests ?? result.count;
  const where = stack.bundlePath ? await sourceMapper(`${stack.bundlePath}.map`) : () => null;
  const a = analyse(profile, { requests: n, intervalUs: interval, where });
  const perUnit = stream ? n * chunks : n;
  const unit = stream ? "chunk" : "request";
  const lat = result.latencyMs ?? result.ttfbMs;
  console.log(`${arm}, ${stream ? `streams of ${chunks} chunks` : "JSON"}, c=${connections}: ${result.ok}/${n} ok, ${stream ? "TTFB" : "latency"} p50 ${lat.p50.toFixed(3)} ms (profiler attached: slower than a benchmark run)`);
  console.log(`process CPU (/proc): ${(cpu.runtime / 1e3 / n).toFixed(0)} µs per ${stream ? "stream" : "request"}${stream ? ` (${(cpu.runtime / 1e3 / perUnit).toFixed(1)} µs per chunk)` : ""}${pids.state ? `; Durable Objects and consumers process ${(cpu.state / 1e3 / n).toFixed(0)} µs` : ""}`);
  console.log(`profiled ${isPortkey ? "Node main thread" : "gateway isolate"} running: ${a.perRequest(a.busyUs).toFixed(0)} µs per ${stream ? "stream" : "request"}${stream ? ` (${(a.busyUs / perUnit).toFixed(1)} µs per chunk)` : ""} = ${Math.round(a.busyUs / a.tickUs)} busy samples x the effective tick ${a.tickUs} µs (${interval} µs requested)`);
  const details = [];
  for (const o of others) {
    const b = analyse(o.profile, { requests: n, intervalUs: interval, where });
    console.log(`  ${o.id.startsWith("core:user:gateway-state") ? "" : "other isolate in the Worker process, "}${o.id}: ${b.perRequest(b.busyUs).toFixed(0)} µs per ${stream ? "stream" : "request"} running`);
    if (o.detail) details.push([o.id, b]);
  }
  const opts = { busyUs: a.busyUs, requests: n, perUnit };
  console.log(`\nby function of ours, what it calls included (runtime, libraries), µs per ${unit}, % of busy:\n` + table(a.owners, { ...opts, limit: top }).join("\n"));
  console.log(`\nself time by function, µs per ${unit}, % of busy:\n` + table(a.self, { ...opts, limit: top }).join("\n"));
  console.log(`\ninclusive time by function, µs per ${unit}:\n` + table(a.inclusive, { ...opts, limit: top * 2 }).join("\n"));
  console.log(`\nself time by file or package, µs per ${unit}:\n` + table(a.files, { ...opts, limit: top }).join("\n"));
  for (const [id, b] of details) {
    const o = { busyUs: b.busyUs, requests: n, perUnit };
    console.log(`\n${id}, by function of ours, what it calls included, µs per ${unit}:\n` + table(b.owners, { ...o, limit: top }).join("\n"));
    console.log(`\n${id}, self time by function, µs per ${unit}:\n` + table(b.self, { ...o, limit: top }).join("\n"));
    console.log(`\n${id}, inclusive:\n` + table(b.inclusive, { ...o, limit: top }).join("\n"));
  }
  console.log(`\nwrote ${path.relative(ROOT, file)}`);
} finally {
  await stack.stop();
  killChildren();
}
