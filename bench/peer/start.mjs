// Starts the peer arms' processes: Portkey's open-source gateway (the npm package, on Node, with its
// `@hono/node-server` pinned through portkey-loader.mjs) and the bare node:http reverse proxy. Both
// listen on 127.0.0.1 only and are stopped with the benchmark's other children.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { firstLine, ROOT, track, waitExit } from "../processes.mjs";

const require = createRequire(import.meta.url);

/** A port free right now on 127.0.0.1 (Portkey takes a port number, not 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers at all (any status), at most `ms`: readiness without a fixed sleep. */
async function answers(url, ms, child, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before it was ready`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not answer ${url} within ${ms} ms`);
}

function stopper(child) {
  return async () => {
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {}
    await waitExit(child, 5_000);
  };
}

/** The package version actually installed, for the report. */
export function portkeyVersion() {
  try {
    return require("@portkey-ai/gateway/package.json").version;
  } catch {
    return null;
  }
}

/** The version of the @hono/node-server Portkey is given ("1.13.8": the alias; "installed": its own). */
export function nodeServerVersion(nodeServer) {
  const dir = nodeServer === "installed" ? "node_modules/@hono/node-server" : `node_modules/hono-node-server-${nodeServer}`;
  try {
    return JSON.parse(readFileSync(path.join(ROOT, dir, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

/**
 * Portkey OSS as `start-server.js --port=N --headless` (NODE_ENV=production, as a deployment runs it). `nodeServer` is "1.13.8" (the npm alias, whose
 * streams work) or "installed" (what Portkey's dependency range resolves to; its streams answer 500).
 */
export async function startPortkey({ nodeServer = "1.13.8", inspectPort } = {}) {
  const entry = path.join(ROOT, "node_modules/@portkey-ai/gateway/build/start-server.js");
  const port = await freePort();
  const child = track(
    // --inspect (bench/profile.mjs only) opens V8's inspector on loopback; it costs nothing until attached.
    spawn(process.execPath, [...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []), "--import", path.join(ROOT, "bench/peer/portkey-loader.mjs"), entry, `--port=${port}`, "--headless"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PORTKEY_NODE_SERVER: nodeServer, NODE_ENV: "production" },
    }),
  );
  // Portkey logs to stdout (a spinner, then one line per error); drained so a full pipe never blocks it.
  let output = "";
  const keep = (d) => (output = (output + d).slice(-4000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  await answers(url, 30_000, child, "Portkey");
  return { url, pid: child.pid, version: portkeyVersion(), nodeServer: nodeServerVersion(nodeServer), logTail: () => output, stop: stopper(child) };
}

/** The bare node:http keep-alive reverse proxy in front of `upstream`. */
export async function startNodeProxy(upstream) {
  const child = track(
    spawn(process.execPath, [path.join(ROOT, "bench/peer/node-proxy.mjs"), "--upstream", upstream], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] }),
  );
  const url = await firstLine(child, (line) => /listening on (http:\/\/\S+)/.exec(line)?.[1], 15_000, "the node:http proxy");
  return { url, pid: child.pid, stop: async () => { child.stdin.end(); await waitExit(child, 5_000); } };
}
