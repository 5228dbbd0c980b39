// The measured part of the run: phases (c=1, c=16, c=64, fixed rates, streams) x arms, interleaved
// over rounds, each run with its CPU charged to the processes involved.
import { ARM_RUNTIME, ARM_STATE, armPids, armWanted, BASELINE_SUFFIX, isGatewayArm, STREAM_ONLY_ARMS } from "./arms.mjs";
import { closedLoop, openLoop } from "./load.mjs";
import { cpuMeter } from "./proc-stats.mjs";
import { streamRun } from "./stream-client.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The phases of one round, in order. Each names the request kind and the mock's scenario settings. */
/** The mock's stream scenario: one word per chunk at least (its reply has completion_tokens words, and it never sends more chunks than words). */
export function streamScenario(chunks, delayMs) {
  return { completion_tokens: Math.max(130, chunks), chunks, chunk_delay_ms: delayMs };
}

export function phasesFor(s) {
  const all = allPhases(s);
  // --phases picks some (a short run of just what a change touches); "rate" stands for every fixed rate.
  return s.phases ? all.filter((p) => s.phases.includes(p.name) || (p.name.startsWith("rate") && s.phases.includes("rate"))) : all;
}

function allPhases(s) {
  // The mock waits latency_ms before every answer (headers included, so a stream's first byte too).
  const latency = s.mockLatencyMs ? { latency_ms: s.mockLatencyMs } : {};
  const json = { completion_tokens: 130, ...latency };
  return [
    { name: "c1", kind: "json", mock: json, run: (t) => closedLoop(t, s.c1) },
    // The CPU-per-request figure comes from this phase, so its window waits for the queue consumers.
    { name: "c16", kind: "json", mock: json, settle: true, run: (t) => closedLoop(t, s.c16) },
    // Runs that can overload the gateway leave work behind (queued requests, consumer batches).
    { name: "c64", kind: "json", mock: json, drain: true, run: (t) => closedLoop(t, s.c64) },
    // Run once per arm after the rounds: an arm that cannot keep up is left overloaded, and the
    // aftermath (seconds of queued work) would otherwise spill into every later measurement.
    ...s.rate.rates.map((rate) => ({ name: `rate${rate}`, kind: "json", mock: json, drain: true, afterRounds: true, run: (t) => openLoop(t, { rate, durationMs: s.rate.durationMs, timeoutMs: s.rate.timeoutMs, maxConnections: s.rate.maxConnections }) })),
    {
      name: "stream0",
      kind: "stream",
      mock: { ...streamScenario(s.stream0.chunks, s.stream0.delayMs), ...latency },
      extraArms: STREAM_ONLY_ARMS,
      // The per-stream CPU figures come from this phase: the window waits for the queue consumers too.
      settle: true,
      run: (t) => streamRun(t, s.stream0),
    },
    { name: "stream20", kind: "stream", mock: { ...streamScenario(s.stream20.chunks, s.stream20.delayMs), ...latency }, run: (t) => streamRun(t, s.stream20) },
  ];
}

export async function setMockScenario(mockUrl, settings) {
  const res = await fetch(`${mockUrl}/__mock/scenarios/default`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(settings) });
  if (!res.ok) throw new Error(`mock scenario update failed: ${res.status} ${await res.text()}`);
}

/** CPU idle rates (ns of CPU per ms of wall time) of each process, to subtract from run windows. */
export async function idleRates(pids, ms = 1000) {
  const meter = cpuMeter(pids);
  const t0 = performance.now();
  await sleep(ms);
  const used = meter.stop();
  const wall = performance.now() - t0;
  return Object.fromEntries(Object.entries(used).map(([k, ns]) => [k, ns / wall]));
}

/**
 * Waits until the arm's runtime processes have been nearly idle (under 10% of a core each in every
 * 100 ms slice) for `quietMs` in a row, at most `maxMs`: an overloaded run's leftovers must not land in
 * the next measurement. Queue consumers run in batches up to 1 s apart, so draining their backlog
 * needs a quiet stretch longer than that. `pid` is one pid or several (the split gateway's two).
 */
export async function quiesce(pid, maxMs, quietMs = 100) {
  const pids = (Array.isArray(pid) ? pid : [pid]).filter(Boolean);
  if (pids.length === 0) return 0;
  const t0 = performance.now();
  let quietSince = performance.now();
  while (performance.now() - t0 < maxMs) {
    const meter = cpuMeter(Object.fromEntries(pids.map((p, i) => [i, p])));
    const w0 = performance.now();
    await sleep(100);
    const now = performance.now();
    const used = meter.stop();
    if (pids.some((_, i) => used[i] / ((now - w0) * 1e6) >= 0.1)) quietSince = now;
    else if (now - quietSince >= quietMs - 1) break;
  }
  return performance.now() - t0;
}

/** One run of one arm in one phase, with CPU per request for the runtime, the mock and this process. */
async function measuredRun(phase, arm, target, ctx) {
  const meter = cpuMeter(ctx.pids);
  const t0 = performance.now();
  const result = await phase.run(target);
  if (phase.settle && isGatewayArm(arm)) await sleep(ctx.settings.cpuSettleMs);
  const used = meter.stop();
  const wallMs = performance.now() - t0;
  const requests = result.requests ?? result.count;
  const perRequestUs = (name) => {
    if (used[name] === undefined || !requests) return null;
    const idle = name === "self" ? 0 : (ctx.idle[name] ?? 0) * wallMs;
    return Math.max(0, used[name] - idle) / requests / 1e3;
  };
  const runtime = ARM_RUNTIME[arm];
  const state = ARM_STATE[arm];
  return {
    // runtime: the process serving the arm's requests (for the split gateway, the Worker's own process);
    // state: the split gateway's Durable Objects, queue consumers and their simulators (null otherwise).
    cpuUsPerRequest: { runtime: runtime ? perRequestUs(runtime) : 0, state: state && ctx.pids[state] ? perRequestUs(state) : null, mock: perRequestUs("mock"), generator: perRequestUs("self"), database: perRequestUs("database") },
    wallMs,
    result,
  };
}

function progressLine(round, phase, arm, run) {
  const r = run.result;
  const lat = r.latencyMs ?? r.ttfbMs;
  const rate = r.rps ?? r.achievedRps;
  const bad = (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0);
  const cpu = run.cpuUsPerRequest;
  return `  r${round} ${phase.padEnd(9)} ${arm.padEnd(22)} ${rate ? `${rate.toFixed(0).padStart(6)} req/s ` : ""}${r.kind === "stream" ? "ttfb " : ""}p50 ${lat.p50?.toFixed(3)} p99 ${lat.p99?.toFixed(3)} ms${bad ? `  non-2xx/errors: ${bad}` : ""}  cpu ${cpu.runtime?.toFixed(0) ?? "-"}${cpu.state !== null && cpu.state !== undefined ? ` + ${cpu.state.toFixed(0)} (DOs, consumers)` : ""} µs/req`;
}

/**
 * The order of the arms in one round: rotated by one per round, so a drift of the shared machine does
 * not always land on the same arm; and each channel and its baseline twin (`x`, `x@base`, adjacent in
 * the list) swap places every other round, so neither always runs first of the pair (the first gateway
 * arm after a non-gateway one waits only for a short quiet stretch, and follows the busiest arms).
 */
export function armOrder(arms, round) {
  const shift = (round - 1) % arms.length;
  const rotated = [...arms.slice(shift), ...arms.slice(0, shift)];
  if (round % 2 === 1) return rotated;
  const out = [...rotated];
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i + 1] === out[i] + BASELINE_SUFFIX) {
      [out[i], out[i + 1]] = [out[i + 1], out[i]];
      i++;
    }
  }
  return out;
}

async function runPhase(ctx, phase, round, records) {
  const { settings, targets, log } = ctx;
  await setMockScenario(ctx.mockUrl, phase.mock);
  const candidates = [...settings.arms, ...(phase.extraArms ?? []).filter((a) => armWanted(a, settings.arms))];
  const arms = candidates.filter((a) => targets[phase.kind][a] && !ctx.failedArms.has(a));
  const ordered = armOrder(arms, round);
  if (phase.settle) await sleep(settings.cpuSettleMs);
  let previous = null;
  for (const arm of ordered) {
    // Gateway arms share a workerd (the baseline's arms another one, on the same cores): the queue delivers
    // the previous arm's billing and audit events up to max_batch_timeout (1 s) after they were sent, so its
    // consumers could otherwise run during this arm's measurement. After another gateway arm, wait for a
    // quiet stretch longer than that in both gateways' processes.
    const pids = armPids(arm, ctx.pids);
    const afterGatewayArm = isGatewayArm(arm) && previous !== null && isGatewayArm(previous);
    const waitedMs = afterGatewayArm
      ? await quiesce([...new Set([...armPids(previous, ctx.pids), ...pids])], settings.drainMaxMs, 1100)
      : await quiesce(pids, settings.quietMaxMs);
    previous = arm;
    const run = await measuredRun(phase, arm, targets[phase.kind][arm], ctx);
    const drainedMs = phase.drain && isGatewayArm(arm) ? await quiesce(pids, settings.drainMaxMs, 1100) : 0;
    records.push({ round, phase: phase.name, arm, quiesceMs: waitedMs, drainedMs, ...run });
    log(progressLine(round, phase.name, arm, run));
  }
}

/**
 * All rounds. Within a round every phase runs every arm back to back, the arm order rotating by one
 * per round, so slow drifts of a shared machine spread over all arms instead of landing on one.
 * The fixed-rate phases follow the rounds (recorded as round rounds+1). Rounds stop early when the
 * next one would not fit in `budgetMs` (counted from `startedAt`); `roundsRun` says how many ran.
 */
export async function runRounds(ctx) {
  const { settings, log } = ctx;
  const phases = phasesFor(settings);
  const records = [];
  const after = phases.filter((p) => p.afterRounds);
  // Worst case of the fixed-rate block: run + deadline + drain, per arm.
  const afterMs = after.length * settings.arms.length * (settings.rate.durationMs + settings.rate.timeoutMs + settings.drainMaxMs);
  let roundsRun = 0;
  let lastRoundMs = 0;
  for (let round = 1; round <= settings.rounds; round++) {
    const elapsed = Date.now() - ctx.startedAt;
    if (round > 1 && elapsed + lastRoundMs + afterMs > settings.budgetMs) {
      log(`stopping after ${roundsRun} rounds to stay within the time budget (${Math.round(settings.budgetMs / 1000)} s)`);
      break;
    }
    log(`round ${round}/${settings.rounds}`);
    const t0 = Date.now();
    for (const phase of phases.filter((p) => !p.afterRounds)) await runPhase(ctx, phase, round, records);
    lastRoundMs = Date.now() - t0;
    roundsRun = round;
  }
  if (after.length) log("fixed-rate runs");
  for (const phase of after) await runPhase(ctx, phase, roundsRun + 1, records);
  return { records, roundsRun };
}

/** Warm-up (not recorded): JIT, connection pools, config caches, Durable Object start. */
export async function warmUp(ctx) {
  const { settings, targets } = ctx;
  const wanted = (arm) => !ctx.failedArms.has(arm) && armWanted(arm, settings.arms);
  await setMockScenario(ctx.mockUrl, { completion_tokens: 130 });
  for (const [arm, target] of Object.entries(targets.json)) {
    if (!wanted(arm)) continue;
    await closedLoop(target, { connections: 4, amount: settings.warmup.requests });
  }
  await setMockScenario(ctx.mockUrl, streamScenario(settings.stream0.chunks, 0));
  for (const [arm, target] of Object.entries(targets.stream)) {
    if (!wanted(arm)) continue;
    await streamRun(target, { count: settings.warmup.streams, concurrency: 2 });
  }
}
