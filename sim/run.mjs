#!/usr/bin/env node
// `npm run simulate`: today's design and the proposed one on the same seeded workload, at 1x (100,000
// requests per second) and 10x; prints the report (its last line: the proposed design's over-admitted
// requests), writes the charts to docs/sim/ and the figures to docs/sim/results.json.
//   node sim/run.mjs [--seed 19] [--scales 1,10] [--seconds 100] [--batch N] [--out docs/sim] [--no-charts]
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { simulate } from "./engine.mjs";
import { TodayDesign } from "./designs/today.mjs";
import { ProposedDesign } from "./designs/proposed.mjs";
import { reportText, summarize } from "./report.mjs";
import { writeCharts } from "./charts.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The scenario: 70 s of traffic; an upstream storm, a region cut off, a large tenant moving region. */
export const SCENARIO = Object.freeze({
  seed: 19,
  baseRps: 100_000,
  seconds: 70,
  warmupSeconds: 15,
  tenants: 2000,
  zipfS: 1.1,
  /** Requests per second one isolate serves (an assumption): about 1,300 isolates at 1x, 10,300 at 10x. */
  rpsPerIsolate: 100,
  isolateLifetimeS: 90,
  /**
   * The global bucket allows 1.2x the demand per minute: it never binds here, so both designs serve the
   * same traffic; its exactness under a binding limit is checked by sim/sim.invariants.test.ts.
   */
  globalLimitFactor: 1.2,
  storm: { upstream: 0, from: 20, to: 45 },
  cutoff: { region: "apac", from: 35, to: 50 },
  shift: { tenantRank: 2, fromRegion: "apac", toRegion: "weur", at: 52 },
});

/**
 * Each simulated arrival stands for `batch` identical requests (same tenant, colo, isolate, millisecond,
 * length and size): 10 at 1x, 100 at 10x, so a run costs the same at both scales while every object
 * sees every call. The 10x run covers the scenario's first 20 s (steady traffic: the busiest objects).
 */
export const BATCH_PER_1X = 10;
export const TEN_X = { seconds: 20, warmupSeconds: 10 };

export function configFor(scale, overrides = {}) {
  const base = { ...SCENARIO, ...(scale >= 10 ? TEN_X : {}), ...overrides, scale };
  return { ...base, batch: overrides.batch ?? Math.max(1, Math.round(scale * BATCH_PER_1X)) };
}

const DESIGNS = { today: (w, i) => new TodayDesign(w, i), proposed: (w, i) => new ProposedDesign(w, i) };

/** Runs every (scale, design) pair; returns the runs, their figures and the report text. */
export function runAll({ scales = [1, 10], designs = ["today", "proposed"], overrides = {}, log = () => {} } = {}) {
  const started = performance.now();
  const runs = [];
  const summaries = [];
  for (const scale of scales) {
    for (const name of designs) {
      const config = configFor(scale, overrides);
      const run = simulate(config, DESIGNS[name]);
      const label = `${name} ${scale}x`;
      log(`${label}: ${run.requests.toLocaleString("en-US")} requests over ${config.seconds} s in ${(run.wallMs / 1000).toFixed(1)} s`);
      runs.push(run);
      summaries.push(summarize(run, label));
    }
  }
  const config = configFor(scales[0], overrides);
  const meta = {
    seed: config.seed,
    seconds: config.seconds,
    warmupSeconds: config.warmupSeconds,
    simulatedSeconds: runs.reduce((n, r) => n + r.world.config.seconds, 0),
    runSeconds: runs.map((r) => `${r.design.name} ${r.world.config.scale}x ${r.world.config.seconds} s (${r.requests.toLocaleString("en-US")} requests, batches of ${r.world.config.batch})`),
    wallSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    storm: config.storm,
    cutoff: config.cutoff,
    shift: config.shift,
  };
  return { runs, summaries, meta, text: reportText(summaries, meta) };
}

function parseArgs(argv) {
  const args = { scales: [1, 10], overrides: {}, out: path.join(ROOT, "docs/sim"), charts: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--seed") (args.overrides.seed = Number(value)), i++;
    else if (flag === "--seconds") (args.overrides.seconds = Number(value)), i++;
    else if (flag === "--batch") (args.overrides.batch = Number(value)), i++;
    else if (flag === "--scales") (args.scales = value.split(",").map(Number)), i++;
    else if (flag === "--out") (args.out = path.resolve(value)), i++;
    else if (flag === "--no-charts") args.charts = false;
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  const result = runAll({ scales: args.scales, overrides: args.overrides, log: (line) => console.error(line) });
  if (args.charts) {
    mkdirSync(args.out, { recursive: true });
    const files = writeCharts(args.out, result.runs, result.summaries, result.meta);
    writeFileSync(path.join(args.out, "results.json"), JSON.stringify({ meta: result.meta, summaries: result.summaries }, null, 2) + "\n");
    console.error(`charts: ${files.map((f) => path.join(path.relative(ROOT, args.out), f)).join(", ")}`);
  }
  console.log(result.text);
}
