// Admin routes for the global rate-limit bucket shared by every tenant (`gw:rl:global`), per channel.
// When it is saturated, capacity is shared by tenant `weight` (see docs/api/rate-limit.md).
import { createRoute, z } from "@hono/zod-openapi";
import { kvKeys } from "../config/kv-keys";
import { GlobalLimitsDocumentSchema, type GlobalLimitsDocument } from "../config/schemas";
import { auditAdminWrite } from "./audit";
import { readJson, writeJson } from "./kv";
import { definedOnly } from "./records";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody, RateLimitsInputSchema, RateLimitsSchema } from "./schemas";

const GlobalLimitsSchema = z
  .object({ version: z.number().int(), external: RateLimitsSchema, internal: RateLimitsSchema, updated_at: z.string().nullable() })
  .openapi("GlobalLimits");

const PutGlobalLimitsSchema = z
  .strictObject({ external: RateLimitsInputSchema.optional(), internal: RateLimitsInputSchema.optional() })
  .openapi("PutGlobalLimits", { description: "Replaces both channels' limits; an absent channel has no global limit." });

const view = (doc: GlobalLimitsDocument | null): z.infer<typeof GlobalLimitsSchema> => ({
  version: doc?.version ?? 0,
  external: doc?.external ?? {},
  internal: doc?.internal ?? {},
  updated_at: doc?.updated_at ?? null,
});

const getLimits = createRoute({
  method: "get",
  path: "/limits/global",
  operationId: "getGlobalLimits",
  tags: ["Limits"],
  summary: "Read the global rate limits",
  ...adminAccess("config"),
  responses: { 200: json(GlobalLimitsSchema, "The global limits (empty before the first write)"), ...errors(401, 503) },
});

const putLimits = createRoute({
  method: "put",
  path: "/limits/global",
  operationId: "replaceGlobalLimits",
  tags: ["Limits"],
  summary: "Replace the global rate limits",
  ...adminAccess("config"),
  request: { body: jsonBody(PutGlobalLimitsSchema) },
  responses: { 200: json(GlobalLimitsSchema, "The stored limits"), ...errors(400, 401, 503) },
});

export function limitRoutes() {
  const app = adminRouter();

  app.openapi(getLimits, async (c) => c.json(view(orThrow(await readJson(c.env, kvKeys.globalLimits(), GlobalLimitsDocumentSchema))), 200));

  app.openapi(putLimits, async (c) => {
    const body = c.req.valid("json");
    const current = orThrow(await readJson(c.env, kvKeys.globalLimits(), GlobalLimitsDocumentSchema));
    const doc: GlobalLimitsDocument = {
      version: (current?.version ?? 0) + 1,
      ...definedOnly({ external: body.external, internal: body.internal }),
      updated_at: new Date().toISOString(),
    };
    orThrow(await writeJson(c.env, kvKeys.globalLimits(), doc));
    auditAdminWrite(c, { action: "global_limits.replace", resource: "global_limits", resourceId: "global", status: 200, configVersion: doc.version });
    return c.json(view(doc), 200);
  });

  return app;
}
