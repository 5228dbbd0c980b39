// Step route_request: picks the upstream candidates for the requested model from the provider presets:
// filtered by capability, model or alias, channel visibility, enabled flag and the caller's scopes,
// ordered by priority, and by weighted random choice within a priority tier. Targets whose circuit
// breaker this isolate knows to be open are left out, so fallbacks go to healthy ones.
import type { Channel, GatewayContext } from "../context";
import type { Capability, PresetItem, Scopes } from "../config/schemas";
import { configStore } from "../config/store";
import { fail } from "../errors";
import type { GatewayStep } from "../pipeline/workflows";
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

/** Orders candidates: lower priority number first; within a tier, a weighted random permutation. */
export function orderCandidates(items: readonly PresetItem[], random: () => number = Math.random): PresetItem[] {
  const tiers = new Map<number, PresetItem[]>();
  for (const item of items) tiers.set(item.priority, [...(tiers.get(item.priority) ?? []), item]);
  const ordered: PresetItem[] = [];
  for (const priority of [...tiers.keys()].sort((a, b) => a - b)) {
    const pool = [...tiers.get(priority)!];
    while (pool.length > 0) {
      const total = pool.reduce((sum, i) => sum + i.weight, 0);
      let pick = 0;
      if (total > 0) {
        let r = random() * total;
        while (pick < pool.length - 1 && r >= pool[pick]!.weight) r -= pool[pick++]!.weight;
      }
      ordered.push(pool.splice(pick, 1)[0]!);
    }
  }
  return ordered;
}

export const routeRequest: GatewayStep = {
  name: "route_request",
  after: ["validate_request"],
  onFailure: "abort",
  timeoutMs: 2_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const parsed = ctx.parsed!;
    const presets = await configStore.presets(ctx.env);
    if (!presets.ok) return presets.failure;
    const items = presets.value?.items ?? [];
    const matches = matchingPresets(items, parsed.model, parsed.capability, ctx.channel);
    if (matches.length === 0) return fail("model_not_found", `The model '${parsed.model}' does not exist or is not available on this channel`, { param: "model" });
    const allowed = ctx.principal ? matches.filter((m) => allowedByScopes(m, ctx.principal!.scopes)) : matches;
    if (allowed.length === 0) return fail("scope_denied", `This credential may not use the model '${parsed.model}'`, { param: "model" });
    const healthy = withoutOpenTargets(orderCandidates(allowed));
    if (!healthy.ok) return healthy.failure;
    ctx.route = { candidates: healthy.value, configVersion: presets.value?.version ?? 0 };
  },
};
