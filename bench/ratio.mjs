// `node bench/ratio.mjs [--rounds N] [--requests N] [--arms floor,internal]`: only the c=1 limit ratio,
// for iterating on the gateway's hot path in about a minute. Same stack and load generator as
// `npm run bench`; arms interleaved per round; prints per-round added p50 and the median ratio.
// The full benchmark remains the figure of record.
import { closedLoop } from "./load.mjs";
import { cpuMeter } from "./proc-stats.mjs";
import { killChildren } from "./processes.mjs";
import { DEFAULTS } from "./config.mjs";
import { ARM_RUNTIME, ARM_STATE } from "./arms.mjs";
import { quiesce, setMockScenario } from "./rounds.mjs";
import { startStack } from "./stack.mjs";
import { median } from "./stats.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const rounds = Number(option("--rounds", 5));
// As in the full run: each c=1 run starts once the runtime is quiet, and sends DEFAULTS.c1.amount requests.
const requests = Number(option("--requests", DEFAULTS.c1.amount));
// Arms set against the bare Worker (the floor Worker and gateway arms); direct and bare always run.
const comparedArms = option("--arms", "floor,internal").split(",").filter((a) => a !== "direct" && a !== "bare");
const arms = ["direct", "bare", ...comparedArms];
const log = (line) => process.stderr.write(line + "\n");

const stack = await startStack({ gateway: true, arms, log });
try {
  for (const problem of stack.problems) log(`PROBLEM: ${problem}`);
  await setMockScenario(stack.mock.url, { completion_tokens: 130 });
  for (const arm of arms) await closedLoop(stack.targets.json[arm], { connections: 4, amount: 500 });
  const added = Object.fromEntries(arms.map((a) => [a, []]));
  const addedP99 = Object.fromEntries(arms.map((a) => [a, []]));
  const cpu = Object.fromEntries(arms.map((a) => [a, []]));
  const stateCpu = Object.fromEntries(arms.map((a) => [a, []]));
  for (let round = 1; round <= rounds; round++) {
    const p50 = {};
    const p99 = {};
    for (const arm of arms) {
      const pid = arm === "direct" ? stack.pids.mock : stack.pids[ARM_RUNTIME[arm]];
      // The split gateway's second process (Durable Objects, queue consumers), reported apart.
      const statePid = stack.pids[ARM_STATE[arm]];
      if (pid) await quiesce([pid, statePid], DEFAULTS.quietMaxMs);
      const meter = cpuMeter({ p: pid, s: statePid });
      const result = await closedLoop(stack.targets.json[arm], { connections: 1, amount: requests });
      const used = meter.stop();
      cpu[arm].push(used.p / 1e3 / result.requests);
      if (statePid) stateCpu[arm].push(used.s / 1e3 / result.requests);
      if (result.ok !== result.requests) log(`${arm}: ${result.requests - result.ok} failed`);
      p50[arm] = result.latencyMs.p50;
      p99[arm] = result.latencyMs.p99;
    }
    for (const arm of arms.slice(1)) added[arm].push(p50[arm] - p50.direct);
    for (const arm of arms.slice(1)) addedP99[arm].push(p99[arm] - p99.direct);
    log(`round ${round}: ` + arms.slice(1).map((a) => `${a} +${(p50[a] - p50.direct).toFixed(3)}`).join("  ") + `  ratio ${comparedArms.map((a) => ((p50[a] - p50.direct) / (p50.bare - p50.direct)).toFixed(2)).join(" ")}`);
  }
  for (const arm of arms.slice(1)) {
    const ratios = added[arm].map((v, i) => v / added.bare[i]);
    console.log(`${arm.padEnd(10)} added p50 +${median(added[arm]).toFixed(3)} ms  ratio ${(median(added[arm]) / median(added.bare)).toFixed(2)} (per round ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})  added p99 +${median(addedP99[arm]).toFixed(2)} ms  CPU ${median(cpu[arm]).toFixed(0)}${stateCpu[arm].length ? ` + ${median(stateCpu[arm]).toFixed(0)} (Durable Objects, consumers; not waited for)` : ""} µs/req`);
  }
} finally {
  await stack.stop();
  killChildren();
}
