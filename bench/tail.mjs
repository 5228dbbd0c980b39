// Where the slow requests at c=1 spend their time: the c=1 phase of one arm (or several), request by
// request, then each request's audit row (its step timings) read back from the run's ledger database.
// For issue 17's tail target (added p99 at c=1 within 5x the added p50, or a measured account of the rest).
//
//   node bench/tail.mjs [--arms internal,external_unsigned] [--requests 800] [--slowest 12]
//
// Prints, per arm: p50 and p99 of the whole request (client side), then the slowest requests and the
// median one with their latency and their audit row's step timings (whole ms, as the runtime's clock
// advances inside a request; steps of one workflow layer run side by side, so the sum is an upper bound).
// The rest of a slow request is time outside the steps: reading the body, building the response, or the
// isolate busy with other work (an earlier request's completion list, a queue send, garbage collection)
// while this one waited.
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { killChildren } from "./processes.mjs";
import { startStack } from "./stack.mjs";
import { percentileSorted } from "./stats.mjs";

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const arms = arg("--arms", "internal,external_unsigned").split(",");
const requests = Number(arg("--requests", "800"));
const slowest = Number(arg("--slowest", "12"));
const log = (line) => process.stderr.write(`${line}\n`);

const stack = await startStack({ gateway: true, arms: ["direct", "bare", ...arms], log });
try {
  for (const problem of stack.problems) log(`PROBLEM: ${problem}`);
  const dbName = /database (\S+?)\)/.exec(stack.database.engine)?.[1];
  for (const arm of arms) {
    const target = stack.targets.json[arm];
    const url = new URL(target.path, target.url);
    const send = async () => {
      const headers = { ...target.headers, ...(target.sign ? target.sign() : {}) };
      const started = performance.now();
      const res = await fetch(url, { method: "POST", headers, body: target.body });
      await res.arrayBuffer();
      return { ms: performance.now() - started, trace: res.headers.get("x-trace-id"), status: res.status, started };
    };
    for (let i = 0; i < 300; i++) await send();
    const samples = [];
    for (let i = 0; i < requests; i++) {
      const s = await send();
      samples.push(s);
    }
    // The audit consumer writes in batches up to a second apart.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const wanted = [...samples].sort((a, b) => b.ms - a.ms).slice(0, slowest);
    const median = [...samples].sort((a, b) => a.ms - b.ms)[samples.length >> 1];
    const rows = auditRows(dbName, [...wanted, median].map((s) => s.trace));
    const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
    console.log(`\n${arm}: ${requests} sequential requests, p50 ${percentileSorted(ms, 50).toFixed(2)} ms, p99 ${percentileSorted(ms, 99).toFixed(2)} ms (client side, not minus direct)`);
    console.log("   total ms | steps, summed ms | steps that took 1 ms or more");
    for (const s of [...wanted, median]) {
      const steps = rows.get(s.trace) ?? [];
      const slow = steps.filter((x) => x.duration_ms >= 1).map((x) => `${x.name} ${x.duration_ms}`).join(", ");
      const summed = rows.has(s.trace) ? String(steps.reduce((sum, x) => sum + x.duration_ms, 0)) : "no row";
      const label = s === median ? " (the median request)" : "";
      console.log(`   ${s.ms.toFixed(2).padStart(8)} | ${summed.padStart(16)} | ${slow}${label}`);
    }
  }
} finally {
  await stack.stop();
  killChildren();
}

/** The audit rows' step timings by trace id, read with psql from the run's ledger database. */
function auditRows(dbName, traces) {
  const list = traces.filter(Boolean).map((t) => `'${t.replace(/[^A-Za-z0-9_-]/g, "")}'`).join(",");
  const sql = `SELECT trace_id, step_timings FROM audit_log WHERE trace_id IN (${list})`;
  const out = execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", dbName, "-At", "-F", "\t", "-c", sql], { encoding: "utf8" });
  const rows = new Map();
  for (const line of out.split("\n").filter(Boolean)) {
    const [trace, steps] = line.split("\t");
    // Stored as { steps: [...] } (queues/audit.ts).
    rows.set(trace, JSON.parse(steps).steps ?? []);
  }
  return rows;
}
