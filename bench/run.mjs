// `npm run bench`: starts the mock provider and the runtime (bare Worker + gateway bundle on workerd),
// seeds the gateway, runs every arm x load interleaved over rounds, writes bench/results/ and prints the table.
import { resolveRef } from "./baseline.mjs";
import { measureConsumer } from "./consumer.mjs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { ARM_RUNTIME } from "./arms.mjs";
import { parseArgs } from "./config.mjs";
import { killChildren, ROOT } from "./processes.mjs";
import { memoryKb, resetPeak } from "./proc-stats.mjs";
import { summarize, toMarkdown } from "./report.mjs";
import { readmeBlock, spliceReadme } from "./report-readme.mjs";
import { idleRates, quiesce, runRounds, warmUp } from "./rounds.mjs";
import { createSigner, signingCostMicros } from "./signing.mjs";
import { startStack } from "./stack.mjs";

const log = (line) => process.stderr.write(line + "\n");
const require = createRequire(import.meta.url);
const version = (pkg) => {
  try {
    return require(`${pkg}/package.json`).version;
  } catch {
    return null;
  }
};

async function main() {
  const settings = parseArgs(process.argv.slice(2));
  // A ref git does not know fails the run now, not after the stack has started.
  if (settings.baseline) resolveRef(settings.baseline);
  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      killChildren();
      process.exit(130);
    });
  }
  const stack = await startStack({ gateway: settings.gateway, arms: settings.arms, split: settings.split, baseline: settings.baseline, log });
  try {
    const { targets, pids, creds, problems } = stack;
    for (const p of problems) log(`PROBLEM: ${p}`);
    const ext = targets.json.external;
    const signingUs = creds && ext ? signingCostMicros(createSigner({ key: creds.signed.key, secret: creds.signed.secret, path: ext.path, body: ext.body })) : null;
    const ctx = { settings, targets, failedArms: stack.failedArms, mockUrl: stack.mock.url, pids, idle: {}, log, startedAt: startedAt.getTime() + stack.baselineSetupMs };
    log("warming up...");
    await warmUp(ctx);
    // The warm-up's billing and audit events reach the queue consumers up to 1 s later, and the ledger
    // writes follow: read the idle CPU only once the gateways (and the baseline's) have drained, or that
    // work is taken for idle and subtracted from every run (the state process's idle read 1-5% of a core).
    await quiesce([pids.gateway, pids.gatewayState, pids.gatewayBase, pids.gatewayBaseState, pids.database], settings.drainMaxMs, 1100);
    ctx.idle = await idleRates(pids);
    for (const pid of Object.values(pids)) if (pid) resetPeak(pid);

    const { records, roundsRun } = await runRounds(ctx);

    let consumer = null;
    // A run of chosen phases (--phases) is a quick look at one path: no consumer measurement.
    if (stack.host.gateway?.url && !settings.phases) {
      log("consumer throughput...");
      const count = settings.mode === "quick" ? 1_000 : 5_000;
      consumer = await measureConsumer({ host: stack.host, gatewayUrl: stack.host.gateway.url, adminToken: stack.adminToken, gatewayPid: pids.gatewayState ?? pids.gateway, count, log }).catch((error) => ({ error: String(error) }));
      if (consumer.error) problems.push(`consumer throughput: ${consumer.error}`);
    }

    const memory = {};
    for (const [name, pid] of Object.entries(pids)) {
      if (!pid) continue;
      const m = memoryKb(pid);
      memory[name] = { peakMb: m.peakKb / 1024, rssMb: m.rssKb / 1024 };
    }
    const hostLog = stack.host.logTail();
    const workerErrors = stack.host.errorLines();
    if (workerErrors.count > 0) problems.push(`The Workers logged ${workerErrors.count} error lines during the run; the first: ${workerErrors.first.join(" | ")}`);
    await stack.stop();

    const meta = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: settings.mode,
      rounds: settings.rounds,
      roundsRun,
      runtime: `workerd via Miniflare's API with direct sockets (no entry worker), one workerd process per Worker, bindings from wrangler.toml${settings.split ? "; the gateway's Durable Objects and queue consumers in a second workerd process, called over its debug port" : ""}`,
      database: stack.database?.engine ?? null,
      node: process.version,
      cpus: os.cpus().length,
      loadavg: loadAtStart,
      loadavgAtEnd: os.loadavg(),
      versions: {
        miniflare: version("miniflare"),
        wrangler: version("wrangler"),
        workerd: version("workerd"),
        autocannon: version("autocannon"),
        portkey: stack.peers.portkey?.version ?? null,
        portkeyNodeServer: stack.peers.portkey?.nodeServer ?? null,
      },
      settings,
      baseline: stack.baseline,
      idleCpuNsPerMs: ctx.idle,
    };
    const summary = summarize(records, settings, { memory, generator: { signingUsPerRequest: signingUs }, consumer, problems });
    const markdown = toMarkdown(summary, meta);
    const dir = path.join(ROOT, "bench/results");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
    await writeFile(file, JSON.stringify({ meta, summary, records, armRuntime: ARM_RUNTIME, runtimeLogTail: problems.length ? hostLog : undefined }, null, 2) + "\n");
    await writeFile(path.join(dir, "latest.md"), markdown);
    const block = readmeBlock(summary, meta);
    await writeFile(path.join(dir, "readme-table.md"), block + "\n");
    if (settings.readme) {
      const readmePath = path.join(ROOT, "README.md");
      await writeFile(readmePath, spliceReadme(await readFile(readmePath, "utf8"), block));
      log("wrote the benchmark block into README.md");
    }
    process.stdout.write("\n" + markdown);
    log(`\nwrote ${path.relative(ROOT, file)} and bench/results/latest.md in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  log(`benchmark failed: ${error?.stack ?? error}`);
  killChildren();
  process.exit(1);
});
