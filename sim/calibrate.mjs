// Measures the real TenantGuard on workerd (the gateway bundle as `wrangler deploy` builds it, hosted by
// Miniflare the way the benchmark hosts it) and prints the figures the simulator's object model is
// calibrated on (sim/calibration.mjs holds the recorded run). Run: `node sim/calibrate.mjs [--n 3000]`.
//
// A small calibrating Worker in the same workerd calls the objects over real RPC stubs and times itself:
// workerd advances its clock at each I/O, and every RPC is I/O, so the mean over thousands of calls is
// sound even though a single call is below the clock's resolution.
// - ping: GatewayMetrics.ping(), a method that does nothing: the cost of an RPC round trip itself.
// - admit / settle: a realistic external request (signed: a nonce; tenant and key RPM and TPM limits; a
//   daily request quota; a balance hold), sequential (c = 1) on one tenant's object.
// - others: GlobalLimiter.take(), UpstreamHealth.record() (a batch of successes), GatewayMetrics.merge() (a
//   delta of 10 counters and 10 tenant-minutes), each sequential on a fresh object.
// - closed loop: c callers each running admit() then settle() back to back on one object, for the
//   throughput one object sustains on this machine.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { bundleGateway, ROOT } from "../bench/processes.mjs";

const CALIBRATOR = `
const LIMITS = { tenant: { requests_per_minute: 10000000, tokens_per_minute: 10000000000 }, key: { requests_per_minute: 10000000, tokens_per_minute: 10000000000 } };
const QUOTAS = [{ id: "daily-requests", scope: "tenant", type: "requests", period: "daily", limit: 100000000 }];
let seq = 0;
function request(keyId) {
  seq += 1;
  const id = "cal-" + seq + "-" + crypto.randomUUID();
  return {
    requestId: id, keyId, channel: "external", capability: "chat", clientIp: null,
    nonce: { value: "n-" + id, timestamp: Math.floor(Date.now() / 1000) },
    limits: LIMITS, quotas: QUOTAS, estimate: { tokens: 1200, costMicros: 900 }, chargeBalance: true,
  };
}
const settlement = (holdId) => ({ holdId, tokens: 950, costMicros: 700, inputTokens: 200, outputTokens: 750 });
async function timed(n, fn) {
  const start = Date.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (Date.now() - start) / n;
}
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const n = Number(url.searchParams.get("n") ?? 1000);
    const c = Number(url.searchParams.get("c") ?? 1);
    const op = url.searchParams.get("op");
    const guard = env.TG.get(env.TG.idFromName("calibration-" + op + "-" + crypto.randomUUID()));
    await guard.credit(1e15, "seed-" + crypto.randomUUID());
    if (op === "ping") {
      const metrics = env.GM.get(env.GM.idFromName("calibration"));
      await metrics.ping();
      return Response.json({ op, n, msPerCall: await timed(n, () => metrics.ping()) });
    }
    if (op === "sequential") {
      const holds = [];
      const admitMs = await timed(n, async () => { const r = await guard.admit(request("key-1")); if (!r.ok) throw new Error(JSON.stringify(r.failure)); holds.push(r.holdId); });
      const settleMs = await timed(n, async (i) => { await guard.settle(settlement(holds[i])); });
      return Response.json({ op, n, admitMs, settleMs });
    }
    if (op === "closed-loop") {
      const start = Date.now();
      let done = 0;
      await Promise.all(Array.from({ length: c }, async (_, k) => {
        for (let i = 0; i < n / c; i++) {
          const r = await guard.admit(request("key-" + k));
          if (!r.ok) throw new Error(JSON.stringify(r.failure));
          await guard.settle(settlement(r.holdId));
          done += 1;
        }
      }));
      const seconds = (Date.now() - start) / 1000;
      return Response.json({ op, n: done, c, pairsPerSecond: done / seconds, msPerPair: (seconds * 1000) / done });
    }
    if (op === "others") {
      // The other objects' per-request calls: the global bucket's take, a breaker's record, a metrics merge.
      const limiter = env.GL.get(env.GL.idFromName("calibration-" + crypto.randomUUID()));
      const health = env.UH.get(env.UH.idFromName("calibration-" + crypto.randomUUID()));
      const metrics = env.GM.get(env.GM.idFromName("calibration-" + crypto.randomUUID()));
      const take = (i) => ({ tenantId: "tenant-" + (i % 50), weight: 1, channel: "external", limits: { requests_per_minute: 1e12, tokens_per_minute: 1e15 }, tokens: 1200 });
      const minute = Math.floor(Date.now() / 60000);
      const latency = new Array(12).fill(0);
      const delta = (i) => ({
        id: "batch-" + i + "-" + crypto.randomUUID(),
        counters: Array.from({ length: 10 }, (_, k) => ({ family: "gateway_requests_total", labels: 'channel="external",status="' + (200 + k) + '"', value: 5 })),
        histograms: [],
        tenants: Array.from({ length: 10 }, (_, k) => ({ tenant: "tenant-" + k, minute, requests: 5, succeeded: 5, clientErrors: 0, rejections: 0, gatewayErrors: 0, upstreamErrors: 0, latency, latencySum: 100, costMicros: 500, models: ["m"] })),
      });
      await limiter.take(take(0)); await health.record({ ok: true, latencyMs: 10, target: "t" }); await metrics.merge(delta(-1));
      const takeMs = await timed(n, (i) => limiter.take(take(i)));
      const recordMs = await timed(n, () => health.record({ ok: true, latencyMs: 500, count: 20, target: "t" }));
      const mergeMs = await timed(Math.ceil(n / 10), (i) => metrics.merge(delta(i)));
      return Response.json({ op, n, takeMs, recordMs, mergeMs });
    }
    return new Response("unknown op", { status: 400 });
  },
};
`;

function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main() {
  const n = argValue("--n", 3000);
  const rounds = argValue("--rounds", 3);
  // As the benchmark does: Durable Object SQLite files on tmpfs, so no disk fsync stalls workerd's thread.
  const scratch = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/gateway-sim-calibrate-") : undefined;
  if (scratch) process.env.TMPDIR = scratch;
  const bundle = await bundleGateway();
  if (!bundle.ok) throw new Error(bundle.error);
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const fromToml = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml")).workerOptions;
  const compat = { compatibilityDate: fromToml.compatibilityDate, compatibilityFlags: fromToml.compatibilityFlags };
  const mf = new Miniflare({
    log: new Log(LogLevel.WARN),
    cf: false,
    workers: [
      { name: "calibrator", modules: true, script: CALIBRATOR, ...compat, durableObjects: { TG: { className: "TenantGuard", scriptName: "gateway" }, GM: { className: "GatewayMetrics", scriptName: "gateway" }, GL: { className: "GlobalLimiter", scriptName: "gateway" }, UH: { className: "UpstreamHealth", scriptName: "gateway" } } },
      { ...fromToml, name: "gateway", modules: true, scriptPath: bundle.bundlePath, modulesRoot: path.dirname(bundle.bundlePath), bindings: { ...fromToml.bindings, ENVIRONMENT: "development" } },
    ],
  });
  try {
    await mf.ready;
    const call = async (query) => {
      const res = await mf.dispatchFetch(`http://calibrator/?${query}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`${query}: ${res.status} ${text}`);
      return JSON.parse(text);
    };
    // Warm-up: JIT, SQLite pages, the objects' first creation.
    await call(`op=sequential&n=${Math.min(n, 500)}`);
    await call(`op=ping&n=${Math.min(n, 500)}`);
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      const ping = await call(`op=ping&n=${n}`);
      const seq = await call(`op=sequential&n=${n}`);
      const loop1 = await call(`op=closed-loop&n=${n}&c=1`);
      const loop8 = await call(`op=closed-loop&n=${n}&c=8`);
      const others = await call(`op=others&n=${n}`);
      runs.push({ pingMs: ping.msPerCall, admitMs: seq.admitMs, settleMs: seq.settleMs, c1PairsPerSecond: loop1.pairsPerSecond, c8PairsPerSecond: loop8.pairsPerSecond, takeMs: others.takeMs, recordMs: others.recordMs, mergeMs: others.mergeMs });
      console.log(JSON.stringify(runs.at(-1)));
    }
    const median = (k) => [...runs.map((x) => x[k])].sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    const summary = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, Number(median(k).toFixed(4))]));
    console.log(`median of ${rounds} rounds, n=${n} calls each: ${JSON.stringify(summary)}`);
  } finally {
    await mf.dispose();
    await bundle.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
