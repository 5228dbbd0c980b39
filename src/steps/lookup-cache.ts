// Step lookup_cache: once the request is routed (the preset and its config version known), decides its
// cache plan (src/cache/policy.ts), computes the key, and reads the hot then the shared tier. A hit ends
// the workflow with the stored answer (run-request.ts renders it); an identical miss already in flight
// in this isolate is waited for and served as a hit (single flight). Runs beside admit: a hit still
// passes the rate limits and holds, and costs no extra round trip.
import type { GatewayContext } from "../context";
import { CACHE_HEADER, CACHE_KEY_HEADER, planCache, type CachePlan } from "../cache/policy";
import { cacheKey } from "../cache/key";
import { generationOf, presetGeneration, tenantGeneration } from "../cache/generations";
import type { StoredEntry } from "../cache/entry";
import { readEntry } from "../cache/tiers";
import { awaitFlight, board } from "../cache/single-flight";
import type { CacheResult } from "../cache/state";
import { answered, reject } from "../pipeline/step";
import type { GatewayStep } from "./types";

/** How long a follower waits for its flight's leader before calling the upstream itself. */
export const FOLLOW_WAIT_MS = 30_000;
/** A leader whose call failed lands empty; its followers elect a new leader at most this often. */
const MAX_BOARDINGS = 3;

function mark(ctx: GatewayContext, result: CacheResult): void {
  ctx.responseHeaders.set(CACHE_HEADER, result);
}

async function keyOf(ctx: GatewayContext, plan: Extract<CachePlan, { use: true }>): Promise<string> {
  const principal = ctx.principal!;
  const tenantScoped = plan.scope === "tenant";
  const [tenantGen, presetGen] = await Promise.all([
    tenantScoped ? generationOf(ctx.env, tenantGeneration(principal.tenantId)) : Promise.resolve("-"),
    generationOf(ctx.env, presetGeneration(plan.preset.id)),
  ]);
  return cacheKey({
    // The channel is part of the scope: a service id and a tenant id are different name spaces.
    scope: tenantScoped ? `${ctx.channel}:tenant:${principal.tenantId}` : "shared",
    capability: ctx.parsed!.capability,
    presetId: plan.preset.id,
    configVersion: ctx.route!.configVersion,
    generations: `${tenantGen}/${presetGen}`,
    body: ctx.parsed!.body as unknown as Record<string, unknown>,
  });
}

function hit(ctx: GatewayContext, stored: StoredEntry, flag: string) {
  ctx.cache!.result = "hit";
  ctx.cache!.entry = stored.entry;
  ctx.flags.add(flag);
  mark(ctx, "hit");
  return answered;
}

export const lookupCache: GatewayStep = {
  name: "lookup_cache",
  // The cache failing never fails the request: it is served from the upstream, flagged.
  onFailure: "degrade",
  timeoutMs: FOLLOW_WAIT_MS + 5_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const planned = planCache(ctx);
    if (!planned.ok) return reject(planned.failure);
    const plan = planned.value;
    if (!plan.use) {
      ctx.cache = { result: "bypass", reason: plan.reason, store: false, ttlS: 0, maxEntryBytes: 0 };
      mark(ctx, "bypass");
      return;
    }
    const key = await keyOf(ctx, plan);
    ctx.cache = { result: "miss", key, preset: plan.preset, store: plan.store, ttlS: plan.ttlS, maxEntryBytes: plan.maxEntryBytes };
    mark(ctx, "miss");
    if (plan.store) ctx.responseHeaders.set(CACHE_KEY_HEADER, key);
    if (plan.read) {
      const found = await readEntry(ctx.env, ctx.exec, key);
      if (found) return hit(ctx, found.stored, found.tier === "hot" ? "cache_hit_hot" : "cache_hit_shared");
    }
    if (!plan.store) return;
    for (let boarding = 0; boarding < MAX_BOARDINGS; boarding++) {
      const seat = board(key);
      if (seat.role === "lead") {
        ctx.cache.flight = seat.flight;
        return;
      }
      // no-cache asks for a fresh answer: it neither waits for nor is served another request's.
      if (!plan.read) return;
      const landed = await awaitFlight(seat.landed, FOLLOW_WAIT_MS);
      if (landed) return hit(ctx, landed, "cache_coalesced");
    }
  },
  degrade(ctx: GatewayContext) {
    ctx.cache = { result: "bypass", reason: "cache_unavailable", store: false, ttlS: 0, maxEntryBytes: 0 };
    ctx.flags.add("cache_unavailable");
    mark(ctx, "bypass");
  },
};
