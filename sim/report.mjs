// Turns a finished run into its figures (after the warm-up) and the report's text.
import { KINDS } from "./model/objects.mjs";
import { REGIONS, UPSTREAMS } from "./model/world.mjs";
import { Histogram } from "./lib/histogram.mjs";

export const QUEUE_LIMIT = 5000;
const round = (v, d = 1) => (Number.isFinite(v) ? Number(v.toFixed(d)) : null);
const pct = (h) => ({ p50: round(h.quantile(0.5)), p99: round(h.quantile(0.99)) });

function median(values) {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The figures of one run (design x scale). */
export function summarize(run, label) {
  const { design: d, world } = run;
  const warm = world.config.warmupSeconds;
  const steady = (series) => series.filter((x) => x.second >= warm);
  const busiest = {};
  KINDS.forEach((kind, k) => {
    const s = steady(d.objects.busiestSeries[k]);
    const peak = s.reduce((best, x) => (x.rps > best.rps ? x : best), { rps: 0, id: -1 });
    if (peak.rps === 0) return;
    busiest[kind] = { peak: peak.rps, median: median(s.map((x) => x.rps)), object: d.objects.labels[peak.id], refused: d.objects.totalRefused[k] };
  });
  const ledger = steady(d.ledger.series);
  const mean = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const seconds = steady(d.perSecond);
  const out = {
    label,
    design: d.name,
    scale: world.config.scale,
    rps: world.rps,
    seconds: world.config.seconds,
    warmupSeconds: warm,
    latencySteadyUntil: Math.min(world.config.seconds, world.config.cutoff?.from ?? Infinity),
    requests: run.requests,
    wallSeconds: round(run.wallMs / 1000),
    latency: {
      byRegion: Object.fromEntries(REGIONS.map((r, i) => [r, pct(d.latency[i])])),
      all: pct(d.allLatency),
      farFromHome: pct(d.farLatency),
      fromCutoffOn: Object.fromEntries(REGIONS.map((r, i) => [r, pct(d.incidentLatency[i])])),
      fromCutoffOnAll: pct(d.incidentLatency.reduce((h, x) => (h.merge(x), h), new Histogram())),
    },
    busiest,
    overAdmitted: d.oracle.overAdmitted,
    underAdmitted: d.oracle.underAdmitted,
    overByBudget: { ...d.oracle.overByBudget },
    outcomes: { ...d.outcomes },
    queues: {
      billingPeak: Math.max(0, ...ledger.map((x) => x.billingMsgs)),
      billingMean: Math.round(mean(ledger.map((x) => x.billingMsgs))),
      auditPeak: Math.max(0, ...ledger.map((x) => x.auditMsgs)),
      auditMean: Math.round(mean(ledger.map((x) => x.auditMsgs))),
      ledgerRowsMean: Math.round(mean(ledger.map((x) => x.ledgerRows))),
      ledgerWritesMean: Math.round(mean(ledger.map((x) => x.ledgerWrites))),
    },
    storm: { callsIntoFailingUpstream: d.stormCalls, breakerOpenedAt: openedAt(d) },
  };
  if (d.name === "today") {
    Object.assign(out, { globalFailOpen: d.globalFailOpen, lostSettlements: d.lostSettlements, orphanedHolds: d.orphanedHolds, metricsBatchesDropped: d.edge.droppedBatches });
  } else {
    const cut = world.config.cutoff;
    const inCut = seconds.filter((x) => cut && x.second >= cut.from && x.second < cut.to);
    Object.assign(out, {
      stranded: {
        requestsMean: round(mean(seconds.map((x) => x.strandedReq)), 4),
        requestsMax: round(Math.max(0, ...seconds.map((x) => x.strandedReq)), 4),
        worstTenantMax: round(Math.max(0, ...seconds.map((x) => x.maxTenantStranded)), 3),
        balanceMean: round(mean(seconds.map((x) => x.strandedBal)), 5),
        inCutRegionMax: Math.round(Math.max(0, ...inCut.map((x) => x.cutHeld))),
      },
      shift: shiftFigures(world, d.perSecond),
      leaseCallsPerSecond: Math.round(mean(seconds.map((x) => x.leaseCalls))),
      waitedForRefill: round(d.parked / Math.max(1, run.requests * (1 - world.config.warmupSeconds / world.config.seconds)), 4),
      waitedForRefillSteady: steadyWaits(world, d.perSecond),
      regionMismatches: d.regionMismatches,
      nonceAtHome: {
        byRegion: Object.fromEntries(REGIONS.map((r, i) => [r, pct(d.nonceAtHome[i])])),
        all: pct(d.nonceAtHome.reduce((h, x) => (h.merge(x), h), new Histogram())),
      },
      metricsEventsLost: d.edge.lostMetricEvents,
    });
  }
  return out;
}

function openedAt(d) {
  const breakers = d.edge.breakers ?? d.edge.rootBreaker.flat();
  const times = breakers.flatMap((b) => b.openedAt);
  return times.length === 0 ? null : round(Math.min(...times) / 1000);
}

/** Requests that waited for a refill, per request, from the warm-up to the first incident (steady traffic). */
function steadyWaits(world, perSecond) {
  const { warmupSeconds, cutoff, shift } = world.config;
  const end = Math.min(cutoff?.from ?? Infinity, shift?.at ?? Infinity, world.config.seconds);
  const seconds = perSecond.filter((x) => x.second >= warmupSeconds && x.second < end);
  const parked = seconds.reduce((n, x) => n + x.parked, 0);
  const requests = seconds.reduce((n, x) => n + x.admitted + x.limited + x.unavailable, 0);
  return requests > 0 ? round(parked / requests, 4) : null;
}

/** The traffic shift: the tenant's requests budget held in leases in the old and new regions, every 2 s. */
function shiftFigures(world, perSecond) {
  const shift = world.config.shift;
  if (!shift || shift.at >= world.config.seconds) return null;
  const from = REGIONS.indexOf(shift.fromRegion);
  const to = REGIONS.indexOf(shift.toRegion);
  const rpm = world.tenants[shift.tenantRank].rpm;
  const at = perSecond.filter((x) => x.second >= shift.at - 1 && (x.second - shift.at + 1) % 2 === 0);
  return {
    limit: rpm,
    seconds: at.map((x) => x.second - shift.at),
    oldRegion: at.map((x) => Math.round(x.shiftHeld[from])),
    newRegion: at.map((x) => Math.round(x.shiftHeld[to])),
  };
}

const cell = (v) => (v === null || v === undefined ? "–" : typeof v === "number" ? v.toLocaleString("en-US") : String(v));
const pad = (s, n) => String(s).padEnd(n);

/** The report's text: latency by region, busiest objects, over-admission, leases, queues. */
export function reportText(summaries, meta) {
  const by = (design, scale) => summaries.find((s) => s.design === design && s.scale === scale);
  const scales = [...new Set(summaries.map((s) => s.scale))];
  const lines = [];
  lines.push(`Simulated ${meta.simulatedSeconds} s of traffic in ${meta.wallSeconds} s (seed ${meta.seed}): ${meta.runSeconds.join("; ")}.`);
  lines.push(`Figures after a ${meta.warmupSeconds}-s warm-up. Storm: ${UPSTREAMS[meta.storm.upstream]} fails ${meta.storm.from}-${meta.storm.to} s; ${meta.cutoff.region} cut off ${meta.cutoff.from}-${meta.cutoff.to} s; tenant #${meta.shift.tenantRank + 1} moves ${meta.shift.fromRegion} -> ${meta.shift.toRegion} at ${meta.shift.at} s.`);
  for (const scale of scales) {
    const t = by("today", scale);
    const p = by("proposed", scale);
    if (!t || !p) continue;
    const until = t.latencySteadyUntil;
    lines.push("", `Admission latency added, ms, p50 / p99, by caller region (${cell(t.rps)} req/s; steady traffic, ${t.warmupSeconds}-${until} s):`);
    lines.push(`  ${pad("region", 16)}${pad("today", 18)}proposed`);
    for (const r of [...REGIONS, "all", "farFromHome"]) {
      const a = r === "all" ? t.latency.all : r === "farFromHome" ? t.latency.farFromHome : t.latency.byRegion[r];
      const b = r === "all" ? p.latency.all : r === "farFromHome" ? p.latency.farFromHome : p.latency.byRegion[r];
      lines.push(`  ${pad(r === "farFromHome" ? "far from home" : r, 16)}${pad(`${cell(a.p50)} / ${cell(a.p99)}`, 18)}${cell(b.p50)} / ${cell(b.p99)}`);
    }
    if (until < t.seconds) {
      const [a, b] = [t.latency.fromCutoffOnAll, p.latency.fromCutoffOnAll];
      lines.push(`  ${pad(`${until}-${t.seconds} s`, 16)}${pad(`${cell(a.p50)} / ${cell(a.p99)}`, 18)}${cell(b.p50)} / ${cell(b.p99)}   (the cut-off, its aftermath and the shift; all regions)`);
    }
  }
  lines.push("", "Busiest object of each kind, calls/s (peak second / median second; the platform's soft ceiling is 1,000):");
  const kinds = [...new Set(summaries.flatMap((s) => Object.keys(s.busiest)))];
  lines.push(`  ${pad("kind", 16)}${summaries.map((s) => pad(s.label, 22)).join("")}`);
  for (const kind of kinds) {
    const cellOf = (s) => (s.busiest[kind] ? `${cell(s.busiest[kind].peak)} / ${cell(s.busiest[kind].median)}` : "–");
    lines.push(`  ${pad(kind, 16)}${summaries.map((s) => pad(cellOf(s), 22)).join("")}`);
  }
  lines.push(`  ${pad("calls refused", 16)}${summaries.map((s) => pad(cell(Math.round(Object.values(s.busiest).reduce((n, b) => n + b.refused, 0))), 22)).join("")}  (overloaded, all objects)`);
  lines.push("", "Over-admitted requests (admitted past a tenant's limits or balance, or the global bucket):");
  for (const s of summaries) lines.push(`  ${pad(s.label, 16)}${cell(s.overAdmitted)}  ${Object.entries(s.overByBudget).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${cell(v)}`).join(", ")}`);
  lines.push("", "Outcomes (requests): admitted / limited (of which while the truth had room: units unused in another lease, or used and not yet reported) / unavailable / admitted by fail-open / failed upstream:");
  for (const s of summaries) lines.push(`  ${pad(s.label, 16)}${cell(s.outcomes.admitted)} / ${cell(s.outcomes.limited)} (${cell(s.underAdmitted)}) / ${cell(s.outcomes.unavailable)} / ${cell(s.outcomes.failOpen)} / ${cell(s.outcomes.upstreamFailed)}`);
  for (const s of summaries) if (s.globalFailOpen !== undefined) lines.push(`  ${pad(s.label, 16)}global takes failed open (GlobalLimiter overloaded, unreachable or slow): ${cell(s.globalFailOpen)}`);
  lines.push("", `Queues, messages/s per queue (peak; limit ${cell(QUEUE_LIMIT)}), ledger rows/s and writes/s (mean):`);
  for (const s of summaries) lines.push(`  ${pad(s.label, 16)}billing ${cell(s.queues.billingPeak)}, audit ${cell(s.queues.auditPeak)}; rows ${cell(s.queues.ledgerRowsMean)}, writes ${cell(s.queues.ledgerWritesMean)}`);
  lines.push("", "Upstream storm: requests sent into the failing upstream, first breaker open (s):");
  for (const s of summaries) lines.push(`  ${pad(s.label, 16)}${cell(s.storm.callsIntoFailingUpstream)}, ${cell(s.storm.breakerOpenedAt)}`);
  const proposed = summaries.filter((s) => s.design === "proposed");
  if (proposed.length > 0) {
    lines.push("", "Leases (proposed): requests budget held in leases (share of all limits: mean, max; worst tenant), held in the cut region for tenants homed elsewhere (max), lease calls/s, requests that waited for a refill (all; steady traffic):");
    for (const s of proposed) {
      lines.push(`  ${pad(s.label, 16)}${cell(s.stranded.requestsMean)}, ${cell(s.stranded.requestsMax)}; ${cell(s.stranded.worstTenantMax)}; ${cell(s.stranded.inCutRegionMax)} units; ${cell(s.leaseCallsPerSecond)}/s; ${cell(s.waitedForRefill)}; ${cell(s.waitedForRefillSteady)}`);
    }
    for (const s of proposed) {
      if (s.shift) lines.push(`  ${pad(s.label, 16)}shift (limit ${cell(s.shift.limit)}/min), held at s ${s.shift.seconds.join(", ")}: old region ${s.shift.oldRegion.map(cell).join(", ")}; new region ${s.shift.newRegion.map(cell).join(", ")}`);
    }
    lines.push("  signed requests if nonces were checked at the tenant's home instead (ms, p50 / p99): " + proposed.map((s) => `${s.label} ${cell(s.nonceAtHome.all.p50)} / ${cell(s.nonceAtHome.all.p99)}`).join("; "));
  }
  lines.push("", `over-admitted requests: ${proposed.reduce((n, s) => n + s.overAdmitted, 0)}`);
  return lines.join("\n");
}
