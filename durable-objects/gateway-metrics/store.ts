// The GatewayMetrics object's tables: merging isolate deltas (with per-family series caps), reading
// the Prometheus snapshot and a tenant's recent minutes, and pruning what has aged out.
import { DEFAULT_MAX_SERIES, OVERFLOW_LABEL, storedFamily, type Family } from "../../src/metrics/families";
import { encodeLabels, type HistogramSample, type Sample } from "../../src/metrics/exposition";
import type { MetricsDelta } from "../../src/metrics/recorder";
import { addTenantMinute, emptyTenantMinute, type TenantMinute } from "../../src/metrics/tenant-stats";

/** Tenant minutes are kept this long (the tenant health endpoint looks back at most an hour). */
export const TENANT_RETENTION_MINUTES = 120;
/** Batch ids are remembered this long; an isolate gives up on a batch well before. */
export const MERGED_BATCH_RETENTION_MS = 60 * 60_000;

type SeriesRow = { family: string; labels: string; value: number };
type HistogramRow = { family: string; labels: string; buckets: string; sum: number; count: number };

export class MetricsStore {
  #sql: SqlStorage;
  /** Known series per family, for the caps; loaded once, then kept in step with the tables. */
  #known = new Map<string, Set<string>>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    for (const r of sql.exec<{ family: string; labels: string }>(`SELECT family, labels FROM series UNION ALL SELECT family, labels FROM histograms`)) {
      this.#knownOf(r.family).add(r.labels);
    }
  }

  #knownOf(family: string): Set<string> {
    let set = this.#known.get(family);
    if (!set) this.#known.set(family, (set = new Set()));
    return set;
  }

  /** The label set to store under: itself, or the family's overflow series once the cap is reached. */
  #admit(family: Family, labels: string): string {
    const known = this.#knownOf(family.name);
    if (known.has(labels)) return labels;
    const overflow = encodeLabels(family, Object.fromEntries(family.labels.map((l) => [l, OVERFLOW_LABEL])));
    // The overflow series is always allowed: it is what keeps the count bounded.
    const named = known.size - (known.has(overflow) ? 1 : 0);
    if (labels !== overflow && named >= (family.maxSeries ?? DEFAULT_MAX_SERIES) - 1) {
      known.add(overflow);
      return overflow;
    }
    known.add(labels);
    return labels;
  }

  /** Adds one delta; false when this batch id was merged before. Call inside a transaction. */
  merge(delta: MetricsDelta, now: number): boolean {
    const seen = this.#sql.exec(`SELECT 1 FROM merged_batches WHERE id = ?`, delta.id).toArray().length > 0;
    if (seen) return false;
    this.#sql.exec(`INSERT INTO merged_batches (id, at) VALUES (?, ?)`, delta.id, now);
    for (const c of delta.counters) this.#addCounter(c);
    for (const h of delta.histograms) this.#addHistogram(h);
    const oldest = Math.floor(now / 60_000) - TENANT_RETENTION_MINUTES;
    for (const t of delta.tenants) if (t.minute > oldest) this.#addTenantMinute(t);
    this.#sql.exec(`INSERT INTO meta (key, value) VALUES ('last_merge_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, now);
    return true;
  }

  #addCounter(c: Sample): void {
    const family = storedFamily(c.family);
    if (!family || family.type !== "counter" || !(c.value > 0)) return;
    const labels = this.#admit(family, c.labels);
    this.#sql.exec(
      `INSERT INTO series (family, labels, value) VALUES (?, ?, ?) ON CONFLICT (family, labels) DO UPDATE SET value = value + excluded.value`,
      family.name,
      labels,
      c.value,
    );
  }

  #addHistogram(h: HistogramSample): void {
    const family = storedFamily(h.family);
    if (!family || family.type !== "histogram" || h.buckets.length !== (family.buckets?.length ?? 0) + 1) return;
    const labels = this.#admit(family, h.labels);
    const row = this.#sql.exec<HistogramRow>(`SELECT * FROM histograms WHERE family = ? AND labels = ?`, family.name, labels).toArray()[0];
    const buckets = row ? (JSON.parse(row.buckets) as number[]) : new Array<number>(h.buckets.length).fill(0);
    h.buckets.forEach((n, i) => (buckets[i] = (buckets[i] ?? 0) + n));
    this.#sql.exec(
      `INSERT INTO histograms (family, labels, buckets, sum, count) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (family, labels) DO UPDATE SET buckets = excluded.buckets, sum = excluded.sum, count = excluded.count`,
      family.name,
      labels,
      JSON.stringify(buckets),
      (row?.sum ?? 0) + h.sum,
      (row?.count ?? 0) + h.count,
    );
  }

  #addTenantMinute(t: TenantMinute): void {
    const row = this.#sql.exec<{ data: string }>(`SELECT data FROM tenant_minutes WHERE tenant = ? AND minute = ?`, t.tenant, t.minute).toArray()[0];
    const merged = row ? (JSON.parse(row.data) as TenantMinute) : emptyTenantMinute(t.tenant, t.minute);
    addTenantMinute(merged, t);
    this.#sql.exec(
      `INSERT INTO tenant_minutes (tenant, minute, data) VALUES (?, ?, ?) ON CONFLICT (tenant, minute) DO UPDATE SET data = excluded.data`,
      t.tenant,
      t.minute,
      JSON.stringify(merged),
    );
  }

  counters(): Sample[] {
    return this.#sql.exec<SeriesRow>(`SELECT family, labels, value FROM series`).toArray().map((r) => ({ ...r }));
  }

  histograms(): HistogramSample[] {
    return this.#sql
      .exec<HistogramRow>(`SELECT * FROM histograms`)
      .toArray()
      .map((r) => ({ family: r.family, labels: r.labels, buckets: JSON.parse(r.buckets) as number[], sum: r.sum, count: r.count }));
  }

  lastMergeAt(): number | undefined {
    return this.#sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'last_merge_at'`).toArray()[0]?.value;
  }

  tenantMinutes(tenant: string, sinceMinute: number): TenantMinute[] {
    return this.#sql
      .exec<{ data: string }>(`SELECT data FROM tenant_minutes WHERE tenant = ? AND minute > ? ORDER BY minute`, tenant, sinceMinute)
      .toArray()
      .map((r) => JSON.parse(r.data) as TenantMinute);
  }

  /** Drops aged tenant minutes and batch ids; returns how many rows went. */
  prune(now: number): number {
    const minutes = this.#sql.exec(`DELETE FROM tenant_minutes WHERE minute <= ?`, Math.floor(now / 60_000) - TENANT_RETENTION_MINUTES).rowsWritten;
    const batches = this.#sql.exec(`DELETE FROM merged_batches WHERE at < ?`, now - MERGED_BATCH_RETENTION_MS).rowsWritten;
    return minutes + batches;
  }
}
