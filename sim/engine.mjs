// The simulation loop: one millisecond at a time, draw the arrivals of that millisecond from the workload
// stream (the same for every design: the seed alone fixes which tenant calls from which colo, when, for
// how long), hand them to the design, then run every event due in that millisecond. At 10x traffic each
// simulated arrival stands for `batch` identical requests (same tenant, colo, isolate and millisecond),
// so the run costs what 1x costs while every object sees ten times the calls.
import { Alias, Rng } from "./lib/rng.mjs";
import { Isolates } from "./model/isolates.mjs";
import { REGIONS, REQUEST, buildWorld } from "./model/world.mjs";

function clamp(x, lo, hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

/** The (tenant, caller region) pairs, weighted by each tenant's traffic and region mix. */
function jointAlias(world) {
  const weights = new Float64Array(world.tenants.length * REGIONS.length);
  for (const t of world.tenants) for (let r = 0; r < REGIONS.length; r++) weights[t.id * REGIONS.length + r] = t.rate * t.mix[r];
  return new Alias(Array.from(weights));
}

/**
 * Runs one design over the scenario; returns the design (its recorded figures) and the run's facts.
 * `makeDesign(world, isolates)` builds the design.
 */
export function simulate(config, makeDesign) {
  const started = performance.now();
  const world = buildWorld(config);
  const workload = new Rng(config.seed, "workload");
  const isolates = new Isolates(world, workload);
  const design = makeDesign(world, isolates);
  const events = design.events;
  const batch = config.batch;
  let joint = jointAlias(world);
  const perMs = world.rps / 1000 / batch;
  const totalMs = config.seconds * 1000;
  const shift = config.shift;
  let arrivals = 0;
  for (let ms = 0; ms < totalMs; ms++) {
    events.now = ms;
    if (ms % 1000 === 0) {
      const second = ms / 1000;
      design.now = ms;
      if (second > 0) design.endSecond(second - 1);
      isolates.churn((slot) => design.isolateReplaced(slot));
      if (shift && second === shift.at) {
        const tenant = world.tenants[shift.tenantRank];
        tenant.mix = tenant.mixAfter;
        joint = jointAlias(world);
      }
      design.startSecond(second);
    }
    const n = workload.poisson(perMs);
    for (let i = 0; i < n; i++) {
      const pair = joint.sample(workload);
      const tenant = (pair / REGIONS.length) | 0;
      const region = pair - tenant * REGIONS.length;
      const coloIds = world.colosOf[region];
      const colo = coloIds[world.coloAlias[region].sample(workload)];
      const slot = isolates.pick(colo);
      const upstream = world.upstreamAlias.sample(workload);
      const stream = workload.chance(REQUEST.streamShare);
      const shape = stream ? REQUEST.stream : REQUEST.plain;
      const durationMs = 1000 * clamp(workload.lognormal(shape.medianS, shape.sigma), shape.minS, shape.maxS);
      const tokens = Math.round(clamp(workload.lognormal(REQUEST.tokens.median, REQUEST.tokens.sigma), REQUEST.tokens.min, REQUEST.tokens.max));
      const actualTokens = Math.round(tokens * workload.between(0.2, 1));
      const req = {
        t: ms + workload.next(),
        tenant,
        region,
        colo,
        slot,
        upstream,
        durationMs,
        tokens,
        estCost: tokens * REQUEST.microsPerToken,
        actualCost: actualTokens * REQUEST.microsPerToken,
        signed: world.tenants[tenant].signed,
        nonce: workload.u32(),
        regionMismatch: workload.chance(0.002),
        w: batch,
        // What a design notes on the request while its admission is under way (one object shape for all).
        guard: 0,
        startAt: 0,
        admit: 0,
        admitAt: 0,
        take: 0,
        takeAt: 0,
        held: false,
        takeCounted: false,
        tenantBits: 0,
        takeDecidedAt: 0,
        shard: null,
        gshard: null,
        parkedAt: null,
        gparkedAt: null,
        attempt: 0,
        done: false,
        need: null,
        serial: 0,
      };
      design.now = req.t;
      design.arrive(req);
      arrivals++;
    }
    let id;
    while ((id = events.pop()) !== -1) {
      design.now = events.time[id];
      design.handle(id);
      events.release(id);
    }
  }
  design.now = totalMs;
  design.endSecond(config.seconds - 1);
  return { world, design, arrivals, requests: arrivals * batch, wallMs: performance.now() - started, isolates };
}
