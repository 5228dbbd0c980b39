// Child process of the benchmark: hosts the bare passthrough Worker, the body-reading floor Worker and
// the gateway bundle on workerd
// (Miniflare's API with direct sockets, so requests skip Miniflare's entry worker), one workerd each.
// With `gatewayOnly` (a baseline commit, bench/baseline.mjs) it hosts that commit's gateway bundle alone,
// with the bindings of that commit's wrangler.toml (`wranglerConfig`).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const READY_PREFIX = "BENCH_HOST ";
export const REPLY_PREFIX = "BENCH_HOST_REPLY ";
/** Billing events per queue message in the consumer-throughput run (about 50 KB, under the gateway's 63 KB pack bound). */
const EVENTS_PER_PACK = 150;

/** Pids of this process's workerd children (Miniflare spawns one per instance). */
function workerdChildren() {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** Starts one Miniflare instance and returns its direct URL and the pid of the workerd it spawned. */
async function startInstance(workerOptions, sharedOptions, { socket = true } = {}) {
  const before = new Set(workerdChildren());
  const mf = new Miniflare({
    ...sharedOptions,
    ...workerOptions,
    ...(socket ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
  });
  await mf.ready;
  const url = socket ? (await mf.unsafeGetDirectURL(workerOptions.name)).toString().replace(/\/$/, "") : null;
  const pid = workerdChildren().find((p) => !before.has(p)) ?? null;
  return { mf, url, pid };
}

/**
 * What wrangler itself would give Miniflare for a wrangler.toml: bindings, compatibility date and flags.
 * This tree's, or a baseline commit's own (`config.wranglerConfig`, bench/baseline.mjs).
 */
async function wranglerOptions(configPath) {
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  return unstable_getMiniflareWorkerOptions(configPath ?? path.join(ROOT, "wrangler.toml")).workerOptions;
}

/** The gateway's Miniflare options: every binding from wrangler.toml, the bundle as the script. */
function gatewayOptions(workerOptions, config) {
  return {
    ...workerOptions,
    name: "gateway",
    modules: true,
    scriptPath: config.bundlePath,
    // Module names are paths relative to this root; a bundle outside the cwd would otherwise need "..".
    modulesRoot: path.dirname(config.bundlePath),
    bindings: { ...workerOptions.bindings, ...config.gatewayBindings },
  };
}

/**
 * The gateway split over two workerd processes, so the Worker's own CPU can be read apart from the rest
 * (workerd reports no CPU time per isolate or per invocation: a tail worker's `cpuTime` is 0 locally).
 * - the *state* process ("gateway-state", bench/split/state-entry.mjs): the same bundle's Durable Object
 *   classes and queue consumers, with Durable Object storage, the queue broker and the ledger writes;
 * - the *Worker* process ("gateway", bench/split/worker-entry.mjs): the bundle's fetch handler, serving
 *   every request, calling the state process's Durable Objects over that process's workerd debug port
 *   (Cap'n Proto RPC straight from the gateway's isolate, through a `workerdDebugPort` binding given by
 *   bench/split/debug-port-plugin.mjs), and sending on its queues through a QueueRelay Durable Object
 *   there (Miniflare delivers only to consumers in the producer's process). KV stays here: the request
 *   path reads it (through the config cache).
 * The state process starts first and registers its debug port in a dev registry of this run's own;
 * the Worker process reads the address from there.
 */
async function startSplitGateway(fromToml, config, shared, inspector) {
  const dir = path.dirname(config.bundlePath);
  for (const file of ["worker-entry.mjs", "state-entry.mjs"]) copyFileSync(path.join(ROOT, "bench/split", file), path.join(dir, file));
  const registry = { unsafeDevRegistryPath: mkdtempSync(path.join(os.tmpdir(), "gateway-bench-registry-")) };
  // The entries import the bundle's index.js, which Miniflare's module rules would otherwise take for CommonJS.
  const base = { ...gatewayOptions(fromToml, config), modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, ...(fromToml.modulesRules ?? [])] };
  const stateInspector = config.stateInspectorPort ? { inspectorPort: config.stateInspectorPort } : {};
  const relay = { BENCH_QUEUE_RELAY: { className: "QueueRelay" } };
  const state = await startInstance(
    { ...base, name: "gateway-state", scriptPath: path.join(dir, "state-entry.mjs"), durableObjects: { ...base.durableObjects, ...relay } },
    { ...shared, ...registry, ...stateInspector },
    { socket: false },
  );
  // The state process registered itself (with its debug port) in the dev registry when it started.
  const registered = JSON.parse(readFileSync(path.join(registry.unsafeDevRegistryPath, "gateway-state"), "utf8"));
  const classes = Object.fromEntries(Object.entries({ ...base.durableObjects, ...relay }).map(([binding, d]) => [binding, d.className]));
  // Declared under the state script's name so `idFromName` gives the state process's ids; the calls
  // themselves bypass these namespaces (worker-entry.mjs).
  const durableObjects = Object.fromEntries(Object.entries({ ...base.durableObjects, ...relay }).map(([binding, d]) => [binding, { ...d, scriptName: "gateway-state" }]));
  const worker = await startInstance(
    {
      ...base,
      scriptPath: path.join(dir, "worker-entry.mjs"),
      durableObjects,
      queueProducers: {},
      queueConsumers: {},
      bindings: { ...base.bindings, BENCH_STATE: JSON.stringify({ address: registered.debugPortAddress, service: registered.userWorkerService, classes }) },
      unsafeBindings: [{ name: "BENCH_DEBUG_PORT", type: "workerd-debug-port", plugin: { package: path.join(ROOT, "bench/split/debug-port-plugin.mjs"), name: "bench-debug-port" }, options: {} }],
    },
    { ...shared, ...registry, ...inspector },
  );
  return { worker, state };
}

async function main() {
  const config = JSON.parse(process.env.BENCH_HOST_CONFIG ?? "{}");
  const shared = { log: new Log(LogLevel.WARN), cf: false };
  const instances = [];
  const out = {};
  /** Where the gateway's queues live (the state process when split): for the consumer-throughput run. */
  let queueHost = null;
  const fromToml = await wranglerOptions(config.wranglerConfig);
  // A baseline commit's host (`gatewayOnly`) serves its gateway alone: the reference Workers run once, in the main host.
  if (!config.gatewayOnly) {
    // Same compatibility date and flags as the gateway, so the floor runs the same runtime semantics.
    const bareCompat = { compatibilityDate: fromToml.compatibilityDate, compatibilityFlags: fromToml.compatibilityFlags };
    const bare = await startInstance(
      { name: "bare", modules: true, scriptPath: path.join(ROOT, "bench/bare-worker.mjs"), modulesRoot: path.join(ROOT, "bench"), bindings: { UPSTREAM: config.mockUrl }, ...bareCompat },
      shared,
    );
    instances.push(bare.mf);
    out.bare = { url: bare.url, pid: bare.pid };
    // The body-reading floor, in its own workerd so its CPU is read apart from the bare Worker's.
    const floor = await startInstance(
      { name: "floor", modules: true, scriptPath: path.join(ROOT, "bench/floor-worker.mjs"), modulesRoot: path.join(ROOT, "bench"), bindings: { UPSTREAM: config.mockUrl }, ...bareCompat },
      shared,
    );
    instances.push(floor.mf);
    out.floor = { url: floor.url, pid: floor.pid };
  }
  if (config.bundlePath) {
    try {
      // The inspector (for --profile) is opened on the gateway only; it costs nothing until attached.
      const inspector = config.inspectorPort ? { inspectorPort: config.inspectorPort } : {};
      if (config.split) {
        const { worker, state } = await startSplitGateway(fromToml, config, shared, inspector);
        instances.push(worker.mf, state.mf);
        queueHost = { mf: state.mf, worker: "gateway-state" };
        out.gateway = { url: worker.url, pid: worker.pid, statePid: state.pid };
      } else {
        const gateway = await startInstance(gatewayOptions(fromToml, config), { ...shared, ...inspector });
        instances.push(gateway.mf);
        queueHost = { mf: gateway.mf, worker: "gateway" };
        out.gateway = { url: gateway.url, pid: gateway.pid };
      }
    } catch (error) {
      out.gateway = { error: String(error?.stack ?? error) };
    }
  }
  process.stdout.write(READY_PREFIX + JSON.stringify(out) + "\n");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const mf of instances) await mf.dispose().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The parent holds our stdin open; when it goes away, so do we (no orphaned workerd).
  process.stdin.on("end", stop);
  // Commands from the parent, one JSON line each: {"cmd":"enqueue-billing","messages":[...]} puts ledger
  // events straight onto the gateway's real billing queue, packed (for the consumer-throughput figure).
  let pending = "";
  process.stdin.on("data", (chunk) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") void command(JSON.parse(line));
  });
  async function command(request) {
    try {
      if (request.cmd !== "enqueue-billing" || !queueHost) throw new Error(`unknown command ${request.cmd}`);
      const queue = await queueHost.mf.getQueueProducer("BILLING_QUEUE", queueHost.worker);
      const started = Date.now();
      // As the gateway sends them (src/billing/emit.ts): packs of events as JSON text, three packs per sendBatch.
      const packs = [];
      for (let i = 0; i < request.messages.length; i += EVENTS_PER_PACK) {
        packs.push(`{"v":1,"events":[${request.messages.slice(i, i + EVENTS_PER_PACK).map((m) => JSON.stringify(m)).join(",")}]}`);
      }
      for (let i = 0; i < packs.length; i += 3) {
        await queue.sendBatch(packs.slice(i, i + 3).map((body) => ({ body, contentType: "text" })));
      }
      process.stdout.write(REPLY_PREFIX + JSON.stringify({ id: request.id, enqueued: request.messages.length, ms: Date.now() - started }) + "\n");
    } catch (error) {
      process.stdout.write(REPLY_PREFIX + JSON.stringify({ id: request.id, error: String(error?.stack ?? error) }) + "\n");
    }
  }
}

main().catch((error) => {
  process.stdout.write(READY_PREFIX + JSON.stringify({ error: String(error?.stack ?? error) }) + "\n");
  process.exit(1);
});
