// Prometheus text exposition format (version 0.0.4): label encoding and rendering of a metrics snapshot.
import { ALL_FAMILIES, type Family } from "./families";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A counter or gauge series; `labels` is the encoded label set (`a="x",b="y"`, family order). */
export interface Sample {
  family: string;
  labels: string;
  value: number;
}

/** A histogram series; `buckets` are per-bucket (not cumulative) counts, the last one above the top bound. */
export interface HistogramSample {
  family: string;
  labels: string;
  buckets: number[];
  sum: number;
  count: number;
}

export interface MetricsSnapshot {
  counters: Sample[];
  histograms: HistogramSample[];
  gauges: Sample[];
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Encodes label values in the family's label order; a missing value is the empty string. */
export function encodeLabels(family: Pick<Family, "labels">, values: Readonly<Record<string, string>>): string {
  return family.labels.map((name) => `${name}="${escapeLabelValue(values[name] ?? "")}"`).join(",");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function line(name: string, labels: string, value: number): string {
  return labels === "" ? `${name} ${formatValue(value)}` : `${name}{${labels}} ${formatValue(value)}`;
}

const withLabel = (labels: string, extra: string) => (labels === "" ? extra : `${labels},${extra}`);

function renderHistogram(family: Family, sample: HistogramSample, out: string[]): void {
  const bounds = family.buckets ?? [];
  let cumulative = 0;
  bounds.forEach((bound, i) => {
    cumulative += sample.buckets[i] ?? 0;
    out.push(line(`${family.name}_bucket`, withLabel(sample.labels, `le="${formatValue(bound)}"`), cumulative));
  });
  out.push(line(`${family.name}_bucket`, withLabel(sample.labels, `le="+Inf"`), sample.count));
  out.push(line(`${family.name}_sum`, sample.labels, sample.sum));
  out.push(line(`${family.name}_count`, sample.labels, sample.count));
}

/** Renders every family that has samples, in registry order, series sorted by labels. */
export function renderExposition(snapshot: MetricsSnapshot): string {
  const out: string[] = [];
  const byLabels = <T extends { labels: string }>(a: T, b: T) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0);
  for (const family of ALL_FAMILIES) {
    if (family.type === "histogram") {
      const series = snapshot.histograms.filter((s) => s.family === family.name).sort(byLabels);
      if (series.length === 0) continue;
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} histogram`);
      for (const s of series) renderHistogram(family, s, out);
      continue;
    }
    const source = family.type === "counter" ? snapshot.counters : snapshot.gauges;
    const series = source.filter((s) => s.family === family.name).sort(byLabels);
    if (series.length === 0) continue;
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const s of series) out.push(line(family.name, s.labels, s.value));
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}
