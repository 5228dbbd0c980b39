// Latency histogram with log-spaced buckets (2% wide, 1 µs to 100 s): weighted adds, quantiles, merge.
const MIN = 0.001;
const STEP = Math.log(1.02);
const BUCKETS = Math.ceil(Math.log(100_000 / MIN) / STEP) + 2;

export class Histogram {
  counts = new Float64Array(BUCKETS);
  total = 0;
  sum = 0;
  max = 0;

  add(ms, weight = 1) {
    const v = ms < MIN ? MIN : ms;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN) / STEP));
    this.counts[i] += weight;
    this.total += weight;
    this.sum += ms * weight;
    if (ms > this.max) this.max = ms;
  }

  merge(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  /** The value at quantile q (0..1): the bucket's geometric middle, so within 1% of any sample in it. */
  quantile(q) {
    if (this.total === 0) return NaN;
    const target = q * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= target && this.counts[i] > 0) return Math.min(this.max, MIN * Math.exp((i + 0.5) * STEP));
    }
    return this.max;
  }

  mean() {
    return this.total === 0 ? NaN : this.sum / this.total;
  }
}
