// Admin purge of the response cache (docs/api/cache.md): by tenant (its tenant-scope entries), by preset
// (every entry of the preset, shared ones included) or by one entry's key (the x-gateway-cache-key of an
// answer). Tenant and preset purges start a new generation, which every colo sees within seconds; a key
// purge deletes the entry from the shared tier and this colo's hot tier.
import { createRoute, z } from "@hono/zod-openapi";
import { bumpGeneration, presetGeneration, tenantGeneration } from "../cache/generations";
import { hotDelete, sharedTierFor } from "../cache/tiers";
import { loadTenant } from "./records";
import { auditAdminWrite } from "./audit";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const PurgeResultSchema = z
  .object({
    purged: z.enum(["tenant", "preset", "key"]).openapi({ description: "What was purged." }),
    id: z.string().openapi({ description: "The tenant id, preset id or entry key purged." }),
  })
  .openapi("CachePurgeResult");

const PurgeSchema = z
  .strictObject({
    preset_id: z.string().min(1).max(256).optional().openapi({ description: "Every entry of this preset, in every scope." }),
    key: z.string().regex(/^[0-9a-f]{64}$/).optional().openapi({ description: "One entry: the x-gateway-cache-key of an answer." }),
  })
  .refine((b) => (b.preset_id === undefined) !== (b.key === undefined), "send exactly one of preset_id and key")
  .openapi("CachePurge");

const TenantPath = z.object({ tenant_id: z.string().min(1).max(128).openapi({ param: { name: "tenant_id", in: "path" } }) });

const purgeTenant = createRoute({
  method: "post",
  path: "/tenants/{tenant_id}/cache/purge",
  operationId: "purgeTenantCache",
  tags: ["Response cache"],
  summary: "Purge a tenant's cached answers (its tenant-scope entries)",
  ...adminAccess("cache", { tenantParam: "tenant_id" }),
  request: { params: TenantPath },
  responses: { 200: json(PurgeResultSchema, "The tenant's entries are unreachable from now on"), ...errors(400, 401, 403, 404, 503) },
});

const purgeEntries = createRoute({
  method: "post",
  path: "/cache/purge",
  operationId: "purgeCache",
  tags: ["Response cache"],
  summary: "Purge cached answers by preset or one entry by key",
  ...adminAccess("cache"),
  request: { body: jsonBody(PurgeSchema) },
  responses: { 200: json(PurgeResultSchema, "Purged"), ...errors(400, 401, 403, 503) },
});

export function cacheRoutes() {
  const app = adminRouter();

  app.openapi(purgeTenant, async (c) => {
    const { tenant_id: tenantId } = c.req.valid("param");
    orThrow(await loadTenant(c.env, tenantId));
    await bumpGeneration(c.env, tenantGeneration(tenantId));
    auditAdminWrite(c, { action: "cache.purge_tenant", resource: "response_cache", resourceId: tenantId, tenantId, status: 200 });
    return c.json({ purged: "tenant" as const, id: tenantId }, 200);
  });

  app.openapi(purgeEntries, async (c) => {
    const body = c.req.valid("json");
    if (body.preset_id !== undefined) {
      await bumpGeneration(c.env, presetGeneration(body.preset_id));
      auditAdminWrite(c, { action: "cache.purge_preset", resource: "response_cache", resourceId: body.preset_id, status: 200 });
      return c.json({ purged: "preset" as const, id: body.preset_id }, 200);
    }
    const key = body.key!;
    await Promise.all([sharedTierFor(c.env).delete(key), hotDelete(key)]);
    auditAdminWrite(c, { action: "cache.purge_key", resource: "response_cache", resourceId: key, status: 200 });
    return c.json({ purged: "key" as const, id: key }, 200);
  });

  return app;
}
