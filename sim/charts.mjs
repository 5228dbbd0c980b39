// The report's charts, written by the simulation itself as SVG files (docs/sim/*.svg).
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { COLORS, barChart, lineChart } from "./lib/svg.mjs";
import { KIND, KINDS } from "./model/objects.mjs";
import { REGIONS } from "./model/world.mjs";
import { QUEUE_LIMIT } from "./report.mjs";

const CEILING = { y: 1000, label: "1,000/s per object" };

function bands(meta) {
  return [
    { from: meta.storm.from, to: meta.storm.to, label: "upstream storm", color: "#fde2c4" },
    { from: meta.cutoff.from, to: meta.cutoff.to, label: `${meta.cutoff.region} cut off`, color: "#f9c9c9" },
  ];
}

/** Writes every chart into `dir`; returns the file names. */
export function writeCharts(dir, runs, summaries, meta) {
  mkdirSync(dir, { recursive: true });
  const files = {};
  const put = (name, svg) => {
    writeFileSync(path.join(dir, name), svg + "\n");
    files[name] = true;
  };
  const get = (design, scale) => summaries.find((s) => s.design === design && s.scale === scale);
  const runOf = (design, scale) => runs.find((r) => r.design.name === design && r.world.config.scale === scale);

  const t1 = get("today", 1) ?? summaries[0];
  const p1 = get("proposed", 1) ?? summaries[1];
  put(
    "latency-by-region.svg",
    barChart({
      title: `Admission latency added by caller region (${t1.rps.toLocaleString("en-US")} req/s)`,
      yLabel: "ms (log scale)",
      log: true,
      min: 1,
      categories: [...REGIONS, "far"],
      groups: [
        { name: "today p50", color: "#9ecae1", values: [...REGIONS.map((r) => t1.latency.byRegion[r].p50), t1.latency.farFromHome.p50] },
        { name: "today p99", color: COLORS[0], values: [...REGIONS.map((r) => t1.latency.byRegion[r].p99), t1.latency.farFromHome.p99] },
        { name: "proposed p50", color: "#a1d99b", values: [...REGIONS.map((r) => p1.latency.byRegion[r].p50), p1.latency.farFromHome.p50] },
        { name: "proposed p99", color: COLORS[2], values: [...REGIONS.map((r) => p1.latency.byRegion[r].p99), p1.latency.farFromHome.p99] },
      ],
    }),
  );

  const kinds = ["TenantGuard", "RegionalGuard", "GlobalLimiter", "GatewayMetrics", "UpstreamHealth", "FanIn"];
  put(
    "busiest-objects.svg",
    barChart({
      title: "Busiest object of each kind (peak calls per second)",
      yLabel: "calls/s (log scale)",
      log: true,
      min: 1,
      categories: kinds,
      hlines: [CEILING],
      groups: summaries.map((s, i) => ({ name: s.label, color: [COLORS[0], "#9ecae1", COLORS[2], "#a1d99b"][i] ?? COLORS[i], values: kinds.map((k) => s.busiest[k]?.peak ?? NaN) })),
    }),
  );

  const lines = [];
  for (const [design, dash] of [["today", undefined], ["proposed", "6 3"]]) {
    const run = runOf(design, 1);
    if (!run) continue;
    for (const [kind, color] of [["TenantGuard", COLORS[0]], ["GlobalLimiter", COLORS[1]], ["UpstreamHealth", COLORS[3]], ["GatewayMetrics", COLORS[4]], ["RegionalGuard", COLORS[2]]]) {
      const points = run.design.objects.busiestSeries[KIND[kind]].map((x) => [x.second, x.rps]);
      if (points.every((p) => p[1] === 0)) continue;
      lines.push({ name: `${design} ${kind}`, color, dash, points });
    }
  }
  put("objects-over-time.svg", lineChart({ title: "Busiest object of each kind, second by second (1x)", yLabel: "calls/s (log scale)", xLabel: "simulated second", log: true, series: lines, hlines: [CEILING], bands: bands(meta) }));

  const p1run = runOf("proposed", 1);
  if (p1run) {
    const ps = p1run.design.perSecond;
    const from = REGIONS.indexOf(meta.shift.fromRegion);
    const to = REGIONS.indexOf(meta.shift.toRegion);
    const tenant = p1run.world.tenants[meta.shift.tenantRank];
    put(
      "stranded-budget.svg",
      lineChart({
        title: "Requests budget held in leases (proposed, 1x): share of the limit",
        yLabel: "share of the requests-per-minute limit",
        xLabel: "simulated second",
        series: [
          { name: "all tenants", color: COLORS[0], points: ps.map((x) => [x.second, x.strandedReq]) },
          { name: `tenant #${meta.shift.tenantRank + 1} in ${meta.shift.fromRegion}`, color: COLORS[3], points: ps.map((x) => [x.second, x.shiftHeld[from] / tenant.rpm]) },
          { name: `tenant #${meta.shift.tenantRank + 1} in ${meta.shift.toRegion}`, color: COLORS[2], points: ps.map((x) => [x.second, x.shiftHeld[to] / tenant.rpm]) },
        ],
        bands: [...bands(meta), { from: meta.shift.at, to: meta.shift.at + 0.5, label: "shift", color: "#999" }],
      }),
    );
  }

  const queueSeries = [];
  for (const [design, dash] of [["today", undefined], ["proposed", "6 3"]]) {
    for (const scale of [1, 10]) {
      const run = runOf(design, scale);
      if (!run) continue;
      queueSeries.push({ name: `${design} ${scale}x audit`, color: scale === 1 ? COLORS[0] : COLORS[1], dash, points: run.design.ledger.series.map((x) => [x.second, x.auditMsgs]) });
    }
  }
  put("queue-messages.svg", lineChart({ title: "Audit queue messages per second (billing is similar)", yLabel: "messages/s (log scale)", xLabel: "simulated second", log: true, series: queueSeries, hlines: [{ y: QUEUE_LIMIT, label: "5,000 msg/s per queue" }], bands: bands(meta) }));
  return Object.keys(files);
}

export { KINDS };
