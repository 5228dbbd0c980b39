// Step route_request: picks the upstream candidates for the requested model from the presets version in
// force for the caller (gray release, src/routing/release.ts): filtered by capability, model or alias,
// channel visibility, enabled flag, the caller's scopes and breaker state (targets this isolate knows
// to be open are left out), ordered by priority; the route's strategy (static weights or a bandit,
// src/routing/plan.ts) chooses within the top tier, and the rest stay as fallbacks.
import type { Channel, GatewayContext } from "../context";
import type { Capability, PresetItem, Scopes } from "../config/schemas";
import { fail } from "../errors";
import type { GatewayStep } from "./types";
import { weightedOrder, tiersOf } from "../routing/bandit";
import { planForRequest, policyOf, routeKeyOf } from "../routing/plan";
import { resolvePresets } from "../routing/release";
import { withoutOpenTargets } from "../upstream/breaker";

export function visibleTo(item: PresetItem, channel: Channel): boolean {
  return item.enabled && (item.visibility === "both" || item.visibility === channel);
}

export function allowedByScopes(item: PresetItem, scopes: Scopes): boolean {
  if (scopes.capabilities && !scopes.capabilities.includes(item.capability)) return false;
  if (scopes.models && !scopes.models.includes(item.model)) return false;
  return true;
}

export function matchingPresets(items: readonly PresetItem[], model: string, capability: Capability, channel: Channel): PresetItem[] {
  return items.filter((i) => i.capability === capability && (i.model === model || i.aliases.includes(model)) && visibleTo(i, channel));
}

/** Orders candidates with static weights only: lower priority number first; within a tier, a weighted random permutation. */
export function orderCandidates(items: readonly PresetItem[], random: () => number = Math.random): PresetItem[] {
  return tiersOf(items).flatMap((tier) => weightedOrder(tier, random));
}

export const routeRequest: GatewayStep = {
  name: "route_request",
  onFailure: "abort",
  timeoutMs: 2_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const parsed = ctx.parsed!;
    const presets = await resolvePresets(ctx.env, ctx.principal?.tenantId);
    if (!presets.ok) return presets.failure;
    if (presets.value?.flag) ctx.flags.add(presets.value.flag);
    const items = presets.value?.document.items ?? [];
    const matches = matchingPresets(items, parsed.model, parsed.capability, ctx.channel);
    if (matches.length === 0) return fail("model_not_found", `The model '${parsed.model}' does not exist or is not available on this channel`, { param: "model" });
    const allowed = ctx.principal ? matches.filter((m) => allowedByScopes(m, ctx.principal!.scopes)) : matches;
    if (allowed.length === 0) return fail("scope_denied", `This credential may not use the model '${parsed.model}'`, { param: "model" });
    const healthy = withoutOpenTargets(allowed);
    if (!healthy.ok) return healthy.failure;
    const route = routeKeyOf(matches, parsed.model);
    const plan = planForRequest(ctx, healthy.value, route, presets.value ? policyOf(presets.value.document, route) : undefined);
    ctx.route = { candidates: plan.candidates, configVersion: presets.value?.version ?? 0, routeKey: route, policy: plan.policy };
  },
};
