// The simulated world: Durable Object regions (location hints) and the round trips between them, 300
// colos grouped by region, tenants with Zipf traffic from several regions and their limits, upstreams,
// and the timeline of the scenario (an upstream failure storm, a region cut off, a tenant's traffic
// moving to another region). Everything here is drawn from the "world" random stream of the seed.
import { Alias, Rng, zipfWeights } from "../lib/rng.mjs";

/** Durable Object location hints (developers.cloudflare.com/durable-objects/reference/data-location/). */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];
export const REGION = Object.fromEntries(REGIONS.map((r, i) => [r, i]));

/**
 * Round-trip times between the regions' Durable Object sites, in ms: an approximation.
 * Sites: wnam N. California, enam N. Virginia, sam São Paulo, weur Frankfurt, eeur Warsaw, apac Singapore,
 * oc Sydney, afr Johannesburg, me Dubai.
 * - T: average RTT between the matching AWS regions (us-west-1, us-east-1, sa-east-1, eu-central-1,
 *   ap-southeast-1, ap-southeast-2) from the public table "Latency Between AWS Global Regions", as
 *   republished at https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html (2017).
 * - D: no measured pair in that table, or the 2017 figure is more than 1.5x the distance estimate (a
 *   detour since replaced by direct cables, e.g. Frankfurt–Singapore 326 ms then): great-circle
 *   distance at 200 km/ms in fibre, x1.5 for the route, + 5 ms. Check current figures (e.g.
 *   https://www.cloudping.co/grid) before relying on a number.
 */
// prettier-ignore
export const RTT_MS = [
  //  wnam      enam      sam       weur      eeur      apac      oc        afr       me
  [   0,        72 /*T*/, 193 /*T*/,167 /*T*/,146 /*D*/,174 /*T*/,158 /*T*/,259 /*D*/,201 /*D*/], // wnam
  [  72 /*T*/,  0,        120 /*T*/, 89 /*T*/,113 /*D*/,217 /*T*/,230 /*T*/,201 /*D*/,175 /*D*/], // enam
  [ 193 /*T*/,120 /*T*/,  0,        195 /*T*/,165 /*D*/,328 /*T*/,205 /*D*/,116 /*D*/,188 /*D*/], // sam
  [ 167 /*T*/, 89 /*T*/,195 /*T*/,  0,         18 /*D*/,159 /*D*/,323 /*T*/,135 /*D*/, 78 /*D*/], // weur
  [ 146 /*D*/,113 /*D*/,165 /*D*/, 18 /*D*/,  0,        146 /*D*/,239 /*D*/,136 /*D*/, 67 /*D*/], // eeur
  [ 174 /*T*/,217 /*T*/,328 /*T*/,159 /*D*/,146 /*D*/,  0,        100 /*D*/,135 /*D*/, 93 /*D*/], // apac
  [ 158 /*T*/,230 /*T*/,205 /*D*/,323 /*T*/,239 /*D*/,100 /*D*/,  0,        171 /*D*/,186 /*D*/], // oc
  [ 259 /*D*/,201 /*D*/,116 /*D*/,135 /*D*/,136 /*D*/,135 /*D*/,171 /*D*/,  0,        101 /*D*/], // afr
  [ 201 /*D*/,175 /*D*/,188 /*D*/, 78 /*D*/, 67 /*D*/, 93 /*D*/,186 /*D*/,101 /*D*/,  0       ], // me
];

/** Colos per region (300 in all) and the share of client traffic that starts in each region: assumptions. */
const COLOS = { wnam: 24, enam: 40, sam: 30, weur: 50, eeur: 30, apac: 70, oc: 14, afr: 24, me: 18 };
const CLIENT_SHARE = { wnam: 0.13, enam: 0.25, sam: 0.05, weur: 0.22, eeur: 0.05, apac: 0.21, oc: 0.03, afr: 0.02, me: 0.04 };
/** Median round trip from a colo to its own region's Durable Object site (regions differ in size): assumptions. */
const INTRA_MEDIAN_MS = { wnam: 14, enam: 14, sam: 22, weur: 10, eeur: 16, apac: 32, oc: 16, afr: 30, me: 22 };

export const UPSTREAMS = ["openai", "anthropic", "azure-east", "azure-west"];
const UPSTREAM_SHARE = [0.4, 0.3, 0.2, 0.1];

/** Request shape: the workload generator's distributions (sim/engine.mjs draws from them). */
export const REQUEST = {
  streamShare: 0.6,
  stream: { medianS: 12, sigma: 0.9, minS: 1, maxS: 300 },
  plain: { medianS: 1.5, sigma: 0.6, minS: 0.2, maxS: 60 },
  tokens: { median: 1500, sigma: 0.8, min: 50, max: 32_000 },
  /** Price: micro-units per token (one price: only sums matter here). */
  microsPerToken: 1,
};

function clamp(x, lo, hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Mean of a lognormal clipped to [lo, hi], by numeric integration (for sizing limits to demand). */
function clippedLognormalMean(median, sigma, lo, hi) {
  let sum = 0;
  const n = 4000;
  for (let i = 1; i < n; i++) {
    const z = -5 + (10 * i) / n;
    const pdf = Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
    sum += clamp(median * Math.exp(sigma * z), lo, hi) * pdf * (10 / n);
  }
  return sum;
}

export const MEAN = {
  durationS:
    REQUEST.streamShare * clippedLognormalMean(REQUEST.stream.medianS, REQUEST.stream.sigma, REQUEST.stream.minS, REQUEST.stream.maxS) +
    (1 - REQUEST.streamShare) * clippedLognormalMean(REQUEST.plain.medianS, REQUEST.plain.sigma, REQUEST.plain.minS, REQUEST.plain.maxS),
  tokens: clippedLognormalMean(REQUEST.tokens.median, REQUEST.tokens.sigma, REQUEST.tokens.min, REQUEST.tokens.max),
};

/**
 * Builds the world for a run. `config.scale` multiplies traffic and, with it, every tenant's limits and
 * balance (the same tenants, ten times busier), so the binding limits stay binding at 10x.
 */
export function buildWorld(config) {
  const rng = new Rng(config.seed, "world");
  const rps = config.baseRps * config.scale;
  const regionShare = REGIONS.map((r) => CLIENT_SHARE[r]);
  const regionAlias = new Alias(regionShare);

  const colos = [];
  const colosOf = REGIONS.map(() => []);
  REGIONS.forEach((name, r) => {
    const weights = zipfWeights(COLOS[name], 0.8);
    for (let i = 0; i < COLOS[name]; i++) {
      const intraMs = clamp(INTRA_MEDIAN_MS[name] * Math.exp(0.5 * rng.normal()), 2, 3 * INTRA_MEDIAN_MS[name]);
      const colo = { id: colos.length, region: r, share: CLIENT_SHARE[name] * (weights[i] / weights.reduce((s, w) => s + w, 0)), intraMs };
      colos.push(colo);
      colosOf[r].push(colo.id);
    }
  });
  const coloAlias = colosOf.map((ids) => new Alias(ids.map((id) => colos[id].share)));

  const shares = zipfWeights(config.tenants, config.zipfS);
  const shareSum = shares.reduce((s, w) => s + w, 0);
  const tenants = shares.map((w, k) => {
    const rate = (rps * w) / shareSum;
    const primary = regionAlias.sample(rng);
    const primaryWeight = rng.between(0.5, 0.95);
    const mix = regionShare.map((s, r) => (1 - primaryWeight) * s + (r === primary ? primaryWeight : 0));
    const home = new Alias(mix).sample(rng);
    const binding = rng.chance(0.18);
    const factor = () => (binding ? rng.between(0.6, 0.95) : rng.between(1.3, 3));
    const tenant = {
      id: k,
      rate,
      mix,
      primary,
      home,
      signed: rng.chance(0.3),
      balanceFailOpen: rng.chance(0.2),
      rateLimitFailClosed: rng.chance(0.1),
      rpm: rng.chance(0.75) ? Math.max(10, Math.round(rate * 60 * factor())) : 0,
      tpm: rng.chance(0.5) ? Math.max(50_000, Math.round(rate * 60 * MEAN.tokens * factor())) : 0,
      slots: rng.chance(0.3) ? Math.max(2, Math.round(rate * MEAN.durationS * factor())) : 0,
      // 15% of tenants run out of prepaid balance during the run; the others hold hours of it.
      balance: rate * MEAN.tokens * REQUEST.microsPerToken * (rng.chance(0.15) ? rng.between(40, 120) : 100_000),
    };
    return tenant;
  });
  // The traffic-shift tenant: a large tenant with a binding request limit whose traffic moves region.
  const shift = config.shift && tenants[config.shift.tenantRank];
  if (shift) {
    shift.rpm = Math.round(shift.rate * 60 * 0.9);
    shift.home = REGION[config.shift.fromRegion];
    shift.primary = shift.home;
    shift.mix = regionShare.map((s, r) => 0.1 * s + (r === shift.home ? 0.9 : 0));
    shift.mixAfter = regionShare.map((s, r) => 0.1 * s + (r === REGION[config.shift.toRegion] ? 0.9 : 0));
  }

  // Objects that every isolate calls live where their first caller was: the largest region here.
  const globalHome = REGION.enam;
  const upstreamHomes = UPSTREAMS.map(() => regionAlias.sample(rng));
  return {
    config,
    rps,
    colos,
    colosOf,
    coloAlias,
    tenants,
    regionShare,
    globalHome,
    upstreamHomes,
    upstreamAlias: new Alias(UPSTREAM_SHARE),
    /** Requests per minute of the global bucket (external channel): binding at the demand's peaks. */
    globalRpm: Math.round(rps * 60 * config.globalLimitFactor),
  };
}

/** Round trip from a colo to a Durable Object in region `r` (no jitter). */
export function rttMs(world, coloId, r) {
  const colo = world.colos[coloId];
  return colo.region === r ? colo.intraMs : RTT_MS[colo.region][r] + 0.5 * colo.intraMs;
}

/** Round trip between two objects' regions (object to object calls). */
export function regionRttMs(a, b) {
  return a === b ? 4 : RTT_MS[a][b];
}

/** Whether region `a` can reach region `b` at time t (ms): the cut-off region reaches only itself. */
export function reachable(world, a, b, t) {
  const cut = world.config.cutoff;
  if (!cut || a === b) return true;
  const inCut = t >= cut.from * 1000 && t < cut.to * 1000;
  return !(inCut && (a === REGION[cut.region] || b === REGION[cut.region]));
}

/** Whether an upstream is failing at time t (ms): the storm. */
export function upstreamFailing(world, upstream, t) {
  const storm = world.config.storm;
  return !!storm && upstream === storm.upstream && t >= storm.from * 1000 && t < storm.to * 1000;
}
