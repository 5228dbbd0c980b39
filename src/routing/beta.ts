// Beta sampling for Thompson sampling, from two Gamma draws (Marsaglia and Tsang, 2000), with an
// injectable uniform source so simulations are reproducible.
type Random = () => number;

function uniformOpen(random: Random): number {
  // (0, 1): log(0) would be -Infinity.
  let u = random();
  while (u <= 0 || u >= 1) u = random();
  return u;
}

function standardNormal(random: Random): number {
  return Math.sqrt(-2 * Math.log(uniformOpen(random))) * Math.cos(2 * Math.PI * random());
}

/** Gamma(shape, 1). */
export function sampleGamma(shape: number, random: Random): number {
  if (shape < 1) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    return sampleGamma(shape + 1, random) * Math.pow(uniformOpen(random), 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniformOpen(random);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(alpha, beta), both > 0. */
export function sampleBeta(alpha: number, beta: number, random: Random = Math.random): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** A small seeded generator (mulberry32) for simulations and tests. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
