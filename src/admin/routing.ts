// Admin routes for routing config releases and routing visibility: stage a presets version, roll it
// out to tenants, promote it, roll back with one call; read the active versions, arm statistics and
// breaker states. Every write is audited with the version it concerns (docs/api/bandit-routing.md).
import { createRoute, z } from "@hono/zod-openapi";
import { PresetItemSchema, RoutingPolicySchema, type PresetsDocument } from "../config/schemas";
import { settingsOf } from "../env";
import { GatewayError } from "../errors";
import { routeReports } from "../routing/stats-view";
import { checkVersionInput, promote, readLive, readVersion, rollback, stageVersion, startRollout, type StoredPresets } from "../routing/versions";
import { auditAdminWrite } from "./audit";
import { adminRouter, notFound, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const PoliciesSchema = z.record(z.string().min(1).max(256), RoutingPolicySchema);

const StageVersionSchema = z
  .strictObject({
    items: z.array(PresetItemSchema).max(500),
    policies: PoliciesSchema.optional(),
    effective_at: z.iso.datetime({ offset: true }).optional().openapi({ description: "Rollout tenants stay on the stable version until then." }),
  })
  .superRefine(({ items }, ctx) => {
    const ids = new Set<string>();
    items.forEach((item, i) => {
      if (ids.has(item.id)) ctx.addIssue({ code: "custom", path: ["items", i, "id"], message: `duplicate preset id ${item.id}` });
      ids.add(item.id);
    });
  })
  .openapi("StagePresetsVersion");

const VersionSchema = z
  .object({ version: z.number().int(), items: z.array(PresetItemSchema), policies: PoliciesSchema.optional(), effective_at: z.string().optional(), created_at: z.string().optional() })
  .openapi("PresetsVersion");

const RolloutInputSchema = z
  .strictObject({
    version: z.number().int().positive(),
    tenants: z.array(z.string().min(1).max(64)).max(1_000).default([]),
    percent: z.number().min(0).max(100).multipleOf(0.01).default(0),
  })
  .openapi("StartRollout", { description: "Tenants listed, plus those whose stable hash falls below `percent`, get the version." });

const PromoteInputSchema = z.strictObject({ version: z.number().int().positive().optional() }).openapi("Promote");

const RoutingStateSchema = z
  .object({
    stable_version: z.number().int(),
    revision: z.number().int(),
    latest_version: z.number().int(),
    candidate: z
      .object({ version: z.number().int(), tenants: z.array(z.string()), percent: z.number(), effective_at: z.string().nullable(), started_at: z.string(), in_force: z.boolean() })
      .nullable(),
    previous_versions: z.array(z.number().int()),
    policies: PoliciesSchema,
    updated_at: z.string().nullable(),
    propagation: z.object({ config_cache_ttl_ms: z.number().int(), max_isolate_delay_ms: z.number().int() }),
    rollback: z.object({ action: z.enum(["rollout_cancelled", "reverted"]), version: z.number().int() }).optional(),
  })
  .openapi("RoutingState");

const ArmReportSchema = z.object({
  id: z.string(),
  priority: z.number(),
  weight: z.number(),
  enabled: z.boolean(),
  n: z.number(),
  mean_reward: z.number().nullable(),
  success_rate: z.number().nullable(),
  mean_latency_ms: z.number().nullable(),
  consecutive_failures: z.number().int(),
  cooling_down: z.boolean(),
  cooldown_until: z.string().nullable(),
  updated_at: z.string().nullable(),
  breaker: z.record(z.string(), z.unknown()).nullable(),
});

const RoutingStatsSchema = z
  .object({
    backend: z.string(),
    routes: z.array(z.object({ route: z.string(), versions: z.array(z.number().int()), policy: RoutingPolicySchema.nullable(), stats_error: z.string().nullable(), arms: z.array(ArmReportSchema) })),
  })
  .openapi("RoutingStats");

const VersionPath = z.object({
  version: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: "version", in: "path" }, example: 4 }),
});
const StatsQuery = z.object({ model: z.string().min(1).max(256).optional().openapi({ param: { name: "model", in: "query" } }) });

const route = <M extends "get" | "post">(method: M, path: string, operationId: string, summary: string) => ({ method, path, operationId, tags: ["Routing"], summary, ...adminAccess("config") });

const getState = createRoute({ ...route("get", "/routing", "getRoutingState", "Active routing config versions and release state"), responses: { 200: json(RoutingStateSchema, "The release state"), ...errors(401, 503) } });
const getVersion = createRoute({
  ...route("get", "/routing/versions/{version}", "getRoutingVersion", "Read one presets version"),
  request: { params: VersionPath },
  responses: { 200: json(VersionSchema, "The version"), ...errors(400, 401, 404, 503) },
});
const postVersion = createRoute({
  ...route("post", "/routing/versions", "stageRoutingVersion", "Stage a new presets version (in force for nobody yet)"),
  request: { body: jsonBody(StageVersionSchema) },
  responses: { 201: json(VersionSchema, "The staged version"), ...errors(400, 401, 503) },
});
const postRollout = createRoute({
  ...route("post", "/routing/rollout", "startRoutingRollout", "Roll a staged version out to tenants or a percentage of tenants"),
  request: { body: jsonBody(RolloutInputSchema) },
  responses: { 200: json(RoutingStateSchema, "The new release state"), ...errors(400, 401, 404, 409, 503) },
});
const postPromote = createRoute({
  ...route("post", "/routing/promote", "promoteRoutingVersion", "Make the rollout's version (or the named one) stable for every tenant"),
  request: { body: jsonBody(PromoteInputSchema) },
  responses: { 200: json(RoutingStateSchema, "The new release state"), ...errors(400, 401, 404, 409, 503) },
});
const postRollback = createRoute({
  ...route("post", "/routing/rollback", "rollBackRouting", "Cancel the running rollout, or else return to the previous stable version"),
  responses: { 200: json(RoutingStateSchema, "The new release state"), ...errors(401, 409, 503) },
});
const getStats = createRoute({
  ...route("get", "/routing/stats", "getRoutingStats", "Arm statistics, cool-downs and breaker states per route"),
  request: { query: StatsQuery },
  responses: { 200: json(RoutingStatsSchema, "Per route, per arm"), ...errors(400, 401, 503) },
});

function stateView(live: StoredPresets | null, ttlMs: number, now = Date.now()): z.infer<typeof RoutingStateSchema> {
  const candidate = live?.release?.candidate;
  return {
    stable_version: live?.version ?? 0,
    revision: live?.revision ?? live?.version ?? 0,
    latest_version: Math.max(live?.release?.latest_version ?? 0, live?.version ?? 0),
    candidate: candidate
      ? { ...candidate, effective_at: candidate.effective_at ?? null, in_force: !candidate.effective_at || Date.parse(candidate.effective_at) <= now }
      : null,
    previous_versions: live?.release?.previous ?? [],
    policies: live?.policies ?? {},
    updated_at: live?.updated_at ?? null,
    // An isolate's cached copy lives for the TTL plus up to 20 % jitter (src/config/cache.ts).
    propagation: { config_cache_ttl_ms: ttlMs, max_isolate_delay_ms: Math.ceil(ttlMs * 1.2) },
  };
}

const stateOf = (c: { env: Parameters<typeof settingsOf>[0] }, live: StoredPresets | null) => stateView(live, settingsOf(c.env).configCacheTtlMs);

export function routingRoutes() {
  const app = adminRouter();

  app.openapi(getState, async (c) => c.json(stateOf(c, orThrow(await readLive(c.env))), 200));

  app.openapi(getVersion, async (c) => {
    const { version } = c.req.valid("param");
    const doc = orThrow(await readVersion(c.env, version, orThrow(await readLive(c.env))));
    return doc ? c.json(doc, 200) : notFound(`Version ${version}`);
  });

  app.openapi(postVersion, async (c) => {
    const input = c.req.valid("json");
    const problem = checkVersionInput(input, settingsOf(c.env));
    if (problem) throw new GatewayError(problem);
    const doc = orThrow(await stageVersion(c.env, input));
    auditAdminWrite(c, { action: "routing.stage", resource: "presets", resourceId: `v${doc.version}`, status: 201, configVersion: doc.version, details: { preset_ids: doc.items.map((i) => i.id), effective_at: doc.effective_at ?? null } });
    return c.json(doc, 201);
  });

  app.openapi(postRollout, async (c) => {
    const input = c.req.valid("json");
    const before = orThrow(await readLive(c.env))?.release?.candidate;
    const live = orThrow(await startRollout(c.env, input));
    auditAdminWrite(c, {
      action: "routing.rollout",
      resource: "presets",
      resourceId: `v${input.version}`,
      status: 200,
      configVersion: input.version,
      details: { tenants: input.tenants.length, percent: input.percent, replaced_version: before?.version ?? null },
    });
    return c.json(stateOf(c, live), 200);
  });

  app.openapi(postPromote, async (c) => {
    const { version } = c.req.valid("json");
    const live = orThrow(await promote(c.env, version));
    auditAdminWrite(c, { action: "routing.promote", resource: "presets", resourceId: `v${live.version}`, status: 200, configVersion: live.version, details: { previous_version: live.release?.previous[0] ?? null } });
    return c.json(stateOf(c, live), 200);
  });

  app.openapi(postRollback, async (c) => {
    const outcome = orThrow(await rollback(c.env));
    const version = outcome.action === "reverted" ? outcome.from : outcome.cancelled;
    auditAdminWrite(c, { action: "routing.rollback", resource: "presets", resourceId: `v${version}`, status: 200, configVersion: outcome.live.version, details: { rollback: outcome.action, rolled_back_version: version } });
    return c.json({ ...stateOf(c, outcome.live), rollback: { action: outcome.action, version } }, 200);
  });

  app.openapi(getStats, async (c) => {
    const { model } = c.req.valid("query");
    const live = orThrow(await readLive(c.env));
    const docs: Array<{ version: number; document: PresetsDocument }> = live ? [{ version: live.version, document: live }] : [];
    const candidate = live?.release?.candidate;
    if (candidate) {
      const doc = orThrow(await readVersion(c.env, candidate.version));
      if (doc) docs.push({ version: doc.version, document: doc });
    }
    return c.json(await routeReports(c.env, docs, model), 200);
  });

  return app;
}
