// Starts and stops the benchmark's child processes: the gateway bundle (wrangler --dry-run), the mock
// provider and the runtime host (bench/runtime-host.mjs, which owns the workerd processes).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const READY_PREFIX = "BENCH_HOST ";
const REPLY_PREFIX = "BENCH_HOST_REPLY ";
const QUIET_WRANGLER = { WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", FORCE_COLOR: "0" };

/**
 * Miniflare keeps the local queue broker's and Durable Objects' SQLite files under os.tmpdir(). On a
 * disk, every fsync of those files blocks workerd's one event-loop thread (about 1 ms each, dozens a
 * second under load), a stall production never has: there, queue and Durable Object storage runs on
 * other machines. On tmpfs the writes still happen, only the disk sync is gone.
 */
function scratchOnTmpfs() {
  if (!existsSync("/dev/shm")) return null;
  // A directory of this host's own, removed when the host stops: Miniflare leaves files behind in its
  // temporary directory, and on tmpfs they would hold memory until the machine restarts.
  const dir = mkdtempSync("/dev/shm/gateway-bench-");
  scratchDirs.add(dir);
  return dir;
}

const scratchDirs = new Set();

/** Removes one host's scratch directory, or (no argument) every one left. */
function removeScratch(dir) {
  for (const d of dir ? [dir] : scratchDirs) rmSync(d, { recursive: true, force: true });
  if (dir) scratchDirs.delete(dir);
  else scratchDirs.clear();
}

/** Every child still running; stopped on exit so an interrupted run leaves nothing behind. */
const live = new Set();
/** Synchronous clean-ups to run on exit too (a baseline's git worktree). */
const cleanups = new Set();

/** Registers `fn` (synchronous) to run from killChildren(); returns a function that unregisters it. */
export function onKill(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Registers a child for killChildren(); returns it. */
export function track(child) {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Kills the children this module started, by pid; called on SIGINT/SIGTERM and at the end. */
export function killChildren() {
  for (const child of live) {
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {}
  }
  // Unlinked files of a still-running workerd are freed when it exits.
  removeScratch();
  for (const fn of cleanups) {
    try {
      fn();
    } catch {}
  }
  cleanups.clear();
}

/** Resolves when the child has exited, SIGKILLing it after `ms`. */
export function waitExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {}
      resolve();
    }, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Bundles the Worker offline exactly as `wrangler deploy` would; the bundle goes to a temp dir.
 * `root` is the tree to bundle (its wrangler.toml and entry): this one, or a baseline commit's worktree
 * (bundled by this tree's wrangler, so both are built by the same bundler).
 */
export async function bundleGateway({ root = ROOT } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gateway-bench-"));
  const outdir = path.join(dir, "bundle");
  const child = track(
    spawn(process.execPath, [path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...QUIET_WRANGLER },
    }),
  );
  let output = "";
  child.stdout.on("data", (d) => (output = (output + d).slice(-8000)));
  child.stderr.on("data", (d) => (output = (output + d).slice(-8000)));
  // Removed on Ctrl-C too (killChildren), not only by the caller's cleanup.
  const forget = onKill(() => rmSync(dir, { recursive: true, force: true }));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  const cleanup = () => (forget(), rm(dir, { recursive: true, force: true }));
  if (code !== 0) {
    await cleanup();
    return { ok: false, error: `wrangler deploy --dry-run exited with ${code}:\n${output.trim()}` };
  }
  return { ok: true, bundlePath: path.join(outdir, "index.js"), cleanup };
}

/** Reads stdout lines of a child until `match` returns a value, or fails after `ms`. */
export function firstLine(child, match, ms, what) {
  return new Promise((resolve, reject) => {
    let buffer = "";
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms} ms\n${stderr}`)), ms);
    child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const onData = (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const value = match(line);
        if (value !== undefined) {
          clearTimeout(timer);
          child.stdout.off("data", onData);
          child.stdout.resume();
          return resolve(value);
        }
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready\n${stderr}`));
    });
  });
}

/** The mock provider in its own process, so it never shares an event loop with the load generator. */
export async function startMock(apiKey) {
  const child = track(
    spawn(process.execPath, [path.join(ROOT, "test/mock-provider/server.mjs"), "--port", "0", "--api-key", apiKey], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const url = await firstLine(child, (line) => /listening on (http:\/\/\S+)/.exec(line)?.[1], 15_000, "the mock provider");
  return { url, pid: child.pid, stop: async () => { process.kill(child.pid, "SIGTERM"); await waitExit(child, 5_000); } };
}

/**
 * The ledger database for the queue consumers (bench/database-host.mjs), in its own process. `root`: the
 * tree whose database host (and so whose migrations) to run: this one, or a baseline commit's worktree.
 */
export async function startDatabaseHost({ root = ROOT } = {}) {
  const child = track(
    spawn(process.execPath, [path.join(root, "bench/database-host.mjs")], { cwd: root, stdio: ["pipe", "pipe", "pipe"] }),
  );
  child.stderr.resume();
  const ready = await firstLine(child, (line) => (line.startsWith("BENCH_DB ") ? JSON.parse(line.slice("BENCH_DB ".length)) : undefined), 60_000, "the database host");
  if (ready.error) throw new Error(`database host failed: ${ready.error}`);
  return { ...ready, pid: child.pid, stop: async () => { child.stdin.end(); await waitExit(child, 10_000); } };
}

/**
 * The runtime host: prints one READY line with the direct URLs and workerd pids of the bare worker
 * and the gateway. Worker logs go to the host's stderr, which we keep the tail of for error reports.
 * `config.gatewayOnly` and `config.wranglerConfig` host a baseline commit's gateway (bench/baseline.mjs).
 */
export async function startRuntimeHost(config) {
  const scratch = scratchOnTmpfs();
  const child = track(
    spawn(process.execPath, [path.join(ROOT, "bench/runtime-host.mjs")], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...QUIET_WRANGLER, ...(scratch ? { TMPDIR: scratch } : {}), BENCH_HOST_CONFIG: JSON.stringify(config) },
    }),
  );
  let logTail = "";
  const errorLines = { count: 0, first: [] };
  let partial = "";
  const keep = (d) => {
    logTail = (logTail + d).slice(-16_000);
    // Worker errors (e.g. ledger writes failing) would distort CPU figures: count them for the report.
    const lines = (partial + d).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!/"level":"error"|Uncaught|internal error/.test(line)) continue;
      errorLines.count++;
      if (errorLines.first.length < 3) errorLines.first.push(line.slice(0, 400));
    }
  };
  child.stderr.on("data", keep);
  const ready = await firstLine(child, (line) => (line.startsWith(READY_PREFIX) ? JSON.parse(line.slice(READY_PREFIX.length)) : undefined), 90_000, "the runtime host");
  const replies = new Map();
  let stdoutPartial = "";
  child.stdout.on("data", (d) => {
    keep(d);
    const lines = (stdoutPartial + d).split("\n");
    stdoutPartial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith(REPLY_PREFIX)) continue;
      const reply = JSON.parse(line.slice(REPLY_PREFIX.length));
      replies.get(reply.id)?.(reply);
      replies.delete(reply.id);
    }
  });
  if (ready.error) throw new Error(`runtime host failed: ${ready.error}`);
  let nextId = 0;
  return {
    ...ready,
    pid: child.pid,
    /** Puts ledger messages straight onto the gateway's billing queue; resolves once they are all sent. */
    enqueueBilling: (messages) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        replies.set(id, (reply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
        child.stdin.write(JSON.stringify({ id, cmd: "enqueue-billing", messages }) + "\n");
      }),
    logTail: () => logTail,
    errorLines: () => errorLines,
    stop: async () => {
      child.stdin.end();
      await waitExit(child, 10_000);
      if (scratch) removeScratch(scratch);
    },
  };
}
