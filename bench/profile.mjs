// `node bench/profile.mjs [arm] [--requests N] [--connections C]`: a CPU profile of the gateway's
// isolate (its Worker and Durable Objects) while one arm is under load, to find where the added
// latency goes. Writes bench/results/profile-<arm>-<time>.cpuprofile (open in Chrome DevTools).
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { SourceMap } from "node:module";
import path from "node:path";
import WebSocket from "ws";
import { closedLoop } from "./load.mjs";
import { cpuMeter } from "./proc-stats.mjs";
import { killChildren, ROOT } from "./processes.mjs";
import { setMockScenario } from "./rounds.mjs";
import { startStack } from "./stack.mjs";

const INSPECTOR_PORT = 9329;
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const arm = argv.find((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--")) ?? "internal";
const requests = option("--requests", 2000);
const connections = option("--connections", 1);
const log = (line) => process.stderr.write(line + "\n");

/** A minimal DevTools protocol session on the gateway Worker's inspector target. */
async function inspect() {
  const list = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json();
  const target = list.find((t) => t.id === "core:user:gateway" || /core:user:gateway$/.test(t.webSocketDebuggerUrl));
  if (!target) throw new Error(`no gateway target among ${list.map((t) => t.id).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    pending.set(++id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

/** Maps bundle positions back to src/ files through wrangler's source map, when there is one. */
async function sourceMapper(bundlePath) {
  try {
    const map = new SourceMap(JSON.parse(await readFile(`${bundlePath}.map`, "utf8")));
    return (line, column) => {
      const entry = map.findEntry(line, column);
      if (!entry?.originalSource) return null;
      const source = entry.originalSource.replace(/^.*?(?=(src|durable-objects|queues|node_modules)\/)/, "");
      return `${source}:${entry.originalLine + 1}`;
    };
  } catch {
    return () => null;
  }
}

/** Self and inclusive sample shares per function (name + source line), highest first. */
function topFunctions(profile, limit, where) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const self = new Map();
  const inclusive = new Map();
  const label = (n) => {
    const { functionName, lineNumber, columnNumber } = n.callFrame;
    const at = lineNumber >= 0 ? (where(lineNumber, columnNumber) ?? `bundle:${lineNumber + 1}`) : "";
    return `${functionName || "(anonymous)"}${at ? `  ${at}` : ""}`;
  };
  for (const [nodeId, count] of counts) {
    self.set(label(nodes.get(nodeId)), (self.get(label(nodes.get(nodeId))) ?? 0) + count);
    const seen = new Set();
    for (let cur = nodeId; cur !== undefined; cur = parent.get(cur)) {
      const key = label(nodes.get(cur));
      if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + count);
      seen.add(key);
    }
  }
  const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([k, c]) => `${((100 * c) / profile.samples.length).toFixed(1).padStart(5)}%  ${k}`);
  return { self: top(self), inclusive: top(inclusive) };
}

const stack = await startStack({ gateway: true, arms: [arm], inspectorPort: INSPECTOR_PORT, log });
try {
  const target = stack.targets.json[arm];
  if (!target || stack.failedArms.has(arm) || !arm.match(/internal|external/)) throw new Error(`arm ${arm} is not a working gateway arm: ${stack.problems.join("; ")}`);
  await setMockScenario(stack.mock.url, { completion_tokens: 130 });
  await closedLoop(target, { connections: 4, amount: 500 });
  const session = await inspect();
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 200 });
  await session.send("Profiler.start");
  const meter = cpuMeter({ gateway: stack.pids.gateway });
  const result = await closedLoop(target, { connections, amount: requests });
  const cpu = meter.stop();
  const { profile } = (await session.send("Profiler.stop")).result;
  session.close();
  const file = path.join(ROOT, "bench/results", `profile-${arm}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  // The bundle's temp dir goes with the stack: keep its source map beside the profile for later reading.
  await copyFile(`${stack.bundlePath}.map`, `${file}.map`).catch(() => {});
  const top = topFunctions(profile, 30, await sourceMapper(stack.bundlePath));
  console.log(`${arm}, c=${connections}: ${result.ok}/${result.requests} ok, p50 ${result.latencyMs.p50.toFixed(3)} ms, workerd CPU ${(cpu.gateway / 1e3 / result.requests).toFixed(0)} µs/request (profiler attached: slower than a benchmark run)`);
  console.log("\nself time (gateway isolate only; KV/queue simulators run in other isolates):\n" + top.self.join("\n"));
  console.log("\ninclusive:\n" + top.inclusive.join("\n"));
  console.log(`\nwrote ${path.relative(ROOT, file)}`);
} finally {
  await stack.stop();
  killChildren();
}
