// Benchmark settings: the default run (about 6 minutes on 2 cores) and --quick (about a minute),
// plus the command-line overrides. Request counts and durations are bounded by design.

import { BASELINE_ARMS, BASELINE_SUFFIX } from "./arms.mjs";

export const DEFAULTS = {
  rounds: 5,
  warmup: { requests: 400, streams: 10 },
  // Sequential requests: stops at `amount` or after maxDurationMs, whichever comes first.
  c1: { connections: 1, amount: 800, maxDurationMs: 2500 },
  c16: { connections: 16, durationMs: 2500 },
  c64: { connections: 64, durationMs: 2500 },
  // Open loop over at most maxConnections sockets (arrivals beyond wait client-side, and their wait
  // counts); a request unanswered timeoutMs after its scheduled start fails, which bounds the run.
  rate: { rates: [500], durationMs: 3000, timeoutMs: 2000, maxConnections: 64 },
  // Streams: `count` of them, no new one started after maxDurationMs.
  stream0: { chunks: 50, delayMs: 0, count: 100, concurrency: 1, maxDurationMs: 3000 },
  stream20: { chunks: 50, delayMs: 20, count: 8, concurrency: 4, maxDurationMs: 3000 },
  // Queue consumers run up to max_batch_timeout (1 s) after the requests that fed them: the CPU
  // window of the c=16 run stays open this long so their work is charged to the arm that caused it.
  cpuSettleMs: 1200,
  // Before each run, wait (at most this long) for the arm's runtime to go idle after the last one.
  quietMaxMs: 5000,
  // After a gateway run that may overload it (c=64, fixed rate): wait for 1.1 s of quiet, at most this.
  drainMaxMs: 8000,
  // No new round starts unless it and the fixed-rate runs still fit in this (from the start of the run).
  budgetMs: 600_000,
  arms: ["direct", "bare", "floor", "internal", "external", "external_unsigned", "external_cache_hit", "external_cache_miss", "node_proxy", "portkey"],
  // The gateway's Durable Objects and queue consumers in a second workerd process (bench/runtime-host.mjs).
  split: true,
  // Write the README's benchmark block from this run (bench/results/readme-table.md is always written).
  readme: false,
  // A git ref whose gateway runs beside the current one as the `@base` arms (bench/baseline.mjs).
  baseline: null,
  // The mock's wait before it answers (its scenario setting latency_ms), in every measured phase:
  // 0 shows the gateway's own cost; a provider-like value (--mock-latency 60) shows what the response cache saves.
  mockLatencyMs: 0,
};

export const QUICK = {
  ...DEFAULTS,
  rounds: 2,
  warmup: { requests: 100, streams: 4 },
  c1: { connections: 1, amount: 150, maxDurationMs: 800 },
  c16: { connections: 16, durationMs: 1000 },
  c64: { connections: 64, durationMs: 1000 },
  rate: { ...DEFAULTS.rate, durationMs: 1000, timeoutMs: 1000 },
  stream0: { ...DEFAULTS.stream0, count: 15, maxDurationMs: 800 },
  stream20: { ...DEFAULTS.stream20, count: 4, concurrency: 4 },
  quietMaxMs: 3000,
  drainMaxMs: 4000,
  budgetMs: 100_000,
  arms: ["direct", "bare", "floor", "internal", "external", "node_proxy", "portkey"],
};

const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--phases c1,c16,c64,rate,stream0,stream20] [--rates 500,1000] [--chunks 50] [--arms direct,bare,floor,internal,external,external_unsigned,external_capped,external_cache_hit,external_cache_miss,node_proxy,portkey,portkey_installed] [--mock-latency MS] [--baseline GIT_REF] [--no-gateway] [--no-peers] [--single-process] [--readme]`;
/** The peers on Node (not ours): skipped by --no-peers. */
const PEER_ARMS = ["node_proxy", "portkey", "portkey_installed"];

/** Parses argv into settings; throws with the usage line on anything unknown. */
export function parseArgs(argv) {
  const settings = structuredClone(argv.includes("--quick") ? QUICK : DEFAULTS);
  settings.mode = argv.includes("--quick") ? "quick" : "default";
  settings.gateway = true;
  settings.peers = true;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === "--quick") continue;
    else if (flag === "--no-gateway") settings.gateway = false;
    else if (flag === "--rounds") settings.rounds = positiveInt(value(), flag);
    else if (flag === "--phases") settings.phases = value().split(",").filter(Boolean);
    else if (flag === "--rates") settings.rate.rates = value().split(",").map((r) => positiveInt(r, flag));
    else if (flag === "--arms") settings.arms = ["direct", ...value().split(",").filter((a) => a && a !== "direct")];
    else if (flag === "--chunks") settings.stream0.chunks = settings.stream20.chunks = positiveInt(value(), flag);
    else if (flag === "--no-peers") settings.peers = false;
    else if (flag === "--single-process") settings.split = false;
    else if (flag === "--readme") settings.readme = true;
    else if (flag === "--baseline") settings.baseline = value();
    else if (flag === "--mock-latency") settings.mockLatencyMs = count(value(), flag);
    else if (flag === "--help" || flag === "-h") throw new Error(USAGE);
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (!settings.peers) settings.arms = settings.arms.filter((a) => !PEER_ARMS.includes(a));
  if (!settings.gateway) settings.arms = settings.arms.filter((a) => a === "direct" || a === "bare" || a === "floor" || PEER_ARMS.includes(a));
  // A baseline commit adds the twin of each chosen channel that has one (internal, external_unsigned),
  // right after it: the pair then runs back to back in every round, so a drift of the shared machine
  // between them is as small as it can be (the rotation per round splits a pair only when it wraps
  // around the end of the list).
  if (settings.baseline) settings.arms = settings.arms.flatMap((a) => (BASELINE_ARMS.includes(a) ? [a, a + BASELINE_SUFFIX] : [a]));
  return settings;
}

function count(text, flag) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} takes a whole number of milliseconds, got "${text}"\n${USAGE}`);
  return n;
}

function positiveInt(text, flag) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} takes positive integers, got "${text}"\n${USAGE}`);
  return n;
}
