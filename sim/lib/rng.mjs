// A small seeded PRNG (sfc32, seeded through splitmix32) and the draws the simulator needs. Every
// random choice in the simulator comes from one of these, so a seed fixes the whole run.

/** splitmix32: spreads a 32-bit seed into well-mixed state words. */
function splitmix32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a string: turns a seed and a stream label into a 32-bit seed. */
export function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Mixes an integer into a well-spread 32-bit value (object and shard choice by hash). */
export function mix32(x) {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  #a;
  #b;
  #c;
  #d;
  #spare = NaN;

  /** `seed` is any integer; `stream` names an independent sequence (the workload, a design, ...). */
  constructor(seed, stream = "") {
    const next = splitmix32(hash32(`${seed}/${stream}`));
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32() {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next() {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n) {
    return Math.floor(this.next() * n);
  }

  between(lo, hi) {
    return lo + (hi - lo) * this.next();
  }

  chance(p) {
    return this.next() < p;
  }

  exp(mean) {
    return -mean * Math.log(1 - this.next());
  }

  /** Standard normal (Box-Muller, the second value kept for the next call). */
  normal() {
    if (!Number.isNaN(this.#spare)) {
      const s = this.#spare;
      this.#spare = NaN;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  lognormal(median, sigma) {
    return median * Math.exp(sigma * this.normal());
  }

  /** Poisson count: inversion for small means, a rounded normal for large ones (mean > 50). */
  poisson(mean) {
    if (mean <= 0) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}

/** Walker's alias table: O(1) draws from a fixed discrete distribution. */
export class Alias {
  constructor(weights) {
    const n = weights.length;
    const total = weights.reduce((s, w) => s + w, 0);
    if (!(n > 0 && total > 0)) throw new Error("alias table needs positive weights");
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = weights.map((w) => (w * n) / total);
    const small = [];
    const large = [];
    scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop();
      const l = large.pop();
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of [...small, ...large]) this.prob[i] = 1;
  }

  sample(rng) {
    const x = rng.next() * this.n;
    const i = Math.floor(x);
    return x - i < this.prob[i] ? i : this.alias[i];
  }
}

/** Zipf weights 1/k^s for ranks 1..n. */
export function zipfWeights(n, s) {
  return Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
}
