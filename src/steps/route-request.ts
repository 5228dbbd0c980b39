// Step route_request: picks the upstream candidates for the requested model from the caller's catalog
// (src/routing/catalog.ts: the presets version in force, visible, enabled, allowed by its scopes), drops
// targets whose breaker this isolate knows to be open, and orders them by priority; the route's strategy
// (static weights or a bandit, src/routing/plan.ts) chooses within the top tier, the rest stay as fallbacks.
import type { GatewayContext } from "../context";
import { fail } from "../errors";
import { failed } from "../pipeline/step";
import type { GatewayStep } from "./types";
import { allowedIn, catalogFor, servingModel } from "../routing/catalog";
import { planForRequest, policyOf, routeKeyOf } from "../routing/plan";
import { withoutOpenTargets } from "../upstream/breaker";

export const routeRequest: GatewayStep = {
  name: "route_request",
  onFailure: "abort",
  timeoutMs: 2_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const parsed = ctx.parsed!;
    const catalog = await catalogFor(ctx.env, ctx.principal, ctx.channel);
    if (!catalog.ok) return failed(catalog.failure);
    if (catalog.value.flag) ctx.flags.add(catalog.value.flag);
    const matches = servingModel(catalog.value, parsed.model, parsed.capability);
    if (matches.length === 0) return failed(fail("model_not_found", `The model '${parsed.model}' does not exist or is not available on this channel`, { param: "model" }));
    const allowed = matches.filter((m) => allowedIn(catalog.value, m));
    if (allowed.length === 0) return failed(fail("scope_denied", `This credential may not use the model '${parsed.model}'`, { param: "model" }));
    const healthy = withoutOpenTargets(allowed);
    if (!healthy.ok) return failed(healthy.failure);
    const route = routeKeyOf(matches, parsed.model);
    const plan = planForRequest(ctx, healthy.value, route, catalog.value.document ? policyOf(catalog.value.document, route) : undefined);
    ctx.route = { candidates: plan.candidates, configVersion: catalog.value.version, routeKey: route, policy: plan.policy };
  },
};
