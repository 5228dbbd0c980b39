// The per-isolate metrics accumulator: counters, histograms and per-tenant minutes kept in memory
// (no I/O per request) until a flush takes them as one delta for the GatewayMetrics Durable Object.
import type { CounterFamily, HistogramFamily, LabelsOf } from "./families";
import { encodeLabels, type HistogramSample, type Sample } from "./exposition";
import { emptyTenantMinute, type TenantMinute } from "./tenant-stats";

/** What one isolate sends in one flush; `id` lets the object ignore a batch it already merged. */
export interface MetricsDelta {
  id: string;
  counters: Sample[];
  histograms: HistogramSample[];
  tenants: TenantMinute[];
}

/** Index of the bucket a value falls in: the first bound >= value, or the overflow bucket. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i;
  return bounds.length;
}

/** Distinct label sets whose encoding is remembered (cleared when full: label values are bounded anyway). */
const MAX_CACHED_LABEL_SETS = 10_000;

export class MetricsRecorder {
  // Series key (family + raw values, length-prefixed so no two label sets collide) -> encoded labels:
  // every request records the same few series, so each label set is escaped once, not per request.
  #encodings = new Map<string, string>();
  #counters = new Map<string, Sample>();
  #histograms = new Map<string, HistogramSample>();
  #tenants = new Map<string, TenantMinute>();
  #events = 0;

  /** The series key of a label set; its encoding is then in #encodings. */
  #seriesKey(family: CounterFamily | HistogramFamily, labels: Readonly<Record<string, string>>): string {
    let key = family.name;
    for (const name of family.labels) {
      const value = labels[name] ?? "";
      key += `\u0000${value.length}:${value}`;
    }
    if (!this.#encodings.has(key)) {
      if (this.#encodings.size >= MAX_CACHED_LABEL_SETS) this.#encodings.clear();
      this.#encodings.set(key, encodeLabels(family, labels));
    }
    return key;
  }

  count<F extends CounterFamily>(family: F, labels: LabelsOf<F>, n = 1): void {
    if (!(n > 0)) return;
    const key = this.#seriesKey(family, labels as Record<string, string>);
    const sample = this.#counters.get(key);
    if (sample) sample.value += n;
    else this.#counters.set(key, { family: family.name, labels: this.#encodings.get(key)!, value: n });
    this.#events++;
  }

  observe<F extends HistogramFamily>(family: F, labels: LabelsOf<F>, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    const key = this.#seriesKey(family, labels as Record<string, string>);
    let sample = this.#histograms.get(key);
    if (!sample) {
      sample = { family: family.name, labels: this.#encodings.get(key)!, buckets: new Array<number>(family.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.#histograms.set(key, sample);
    }
    sample.buckets[bucketIndex(family.buckets, seconds)]! += 1;
    sample.sum += seconds;
    sample.count += 1;
  }

  /** The tenant's row for a minute, to add this request's numbers to. */
  tenantMinute(tenant: string, minute: number): TenantMinute {
    const key = `${tenant}\u0000${minute}`;
    let row = this.#tenants.get(key);
    if (!row) {
      row = emptyTenantMinute(tenant, minute);
      this.#tenants.set(key, row);
    }
    return row;
  }

  /** Counter increments since the last take (a request adds several); drives early flushes. */
  get events(): number {
    return this.#events;
  }

  get empty(): boolean {
    return this.#counters.size === 0 && this.#histograms.size === 0 && this.#tenants.size === 0;
  }

  /** Everything accumulated so far, as one delta; the recorder starts over empty. */
  take(): MetricsDelta | undefined {
    if (this.empty) return undefined;
    const delta: MetricsDelta = {
      id: crypto.randomUUID(),
      counters: [...this.#counters.values()],
      histograms: [...this.#histograms.values()],
      tenants: [...this.#tenants.values()],
    };
    this.#counters = new Map();
    this.#histograms = new Map();
    this.#tenants = new Map();
    this.#events = 0;
    return delta;
  }
}
