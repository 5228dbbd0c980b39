// Admin routes for the provider presets document: read it, or replace it whole (a new version, in
// force for everyone at once: src/routing/versions.ts publishVersion; staged rollouts are in
// src/admin/routing.ts). Every upstream base_url passes the SSRF guard at write time, so an internal
// address can never be configured.
import { createRoute, z } from "@hono/zod-openapi";
import { settingsOf } from "../env";
import { GatewayError } from "../errors";
import { kvKeys } from "../config/kv-keys";
import { PresetItemSchema, PresetsDocumentSchema, RoutingPolicySchema } from "../config/schemas";
import { checkVersionInput, publishVersion } from "../routing/versions";
import { auditAdminWrite } from "./audit";
import { readJson } from "./kv";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const PresetsSchema = PresetsDocumentSchema.extend({ updated_at: z.string().nullable() }).openapi("Presets");

const PutPresetsSchema = z
  .strictObject({ items: z.array(PresetItemSchema).max(500), policies: z.record(z.string().min(1).max(256), RoutingPolicySchema).optional() })
  .superRefine(({ items }, ctx) => {
    const ids = new Set<string>();
    items.forEach((item, i) => {
      if (ids.has(item.id)) ctx.addIssue({ code: "custom", path: ["items", i, "id"], message: `duplicate preset id ${item.id}` });
      ids.add(item.id);
    });
  })
  .openapi("PutPresets", { description: "The whole list of presets; the server assigns the next version." });

/** Stored alongside the document; the gateway's schema ignores it. */
const StoredPresetsSchema = PresetsDocumentSchema.extend({ updated_at: z.string().optional() });

const getPresets = createRoute({
  method: "get",
  path: "/presets",
  operationId: "getPresets",
  tags: ["Presets"],
  summary: "Read the provider presets",
  ...adminAccess("config"),
  responses: { 200: json(PresetsSchema, "The presets document (version 0 and no items before the first write)"), ...errors(401, 503) },
});

const putPresets = createRoute({
  method: "put",
  path: "/presets",
  operationId: "replacePresets",
  tags: ["Presets"],
  summary: "Replace the provider presets (bumps the version)",
  ...adminAccess("config"),
  request: { body: jsonBody(PutPresetsSchema) },
  responses: { 200: json(PresetsSchema, "The stored document"), ...errors(400, 401, 503) },
});

export function presetRoutes() {
  const app = adminRouter();

  app.openapi(getPresets, async (c) => {
    const stored = orThrow(await readJson(c.env, kvKeys.presets(), StoredPresetsSchema));
    return c.json({ version: stored?.version ?? 0, items: stored?.items ?? [], policies: stored?.policies, updated_at: stored?.updated_at ?? null }, 200);
  });

  app.openapi(putPresets, async (c) => {
    const { items, policies } = c.req.valid("json");
    const problem = checkVersionInput({ items, policies }, settingsOf(c.env));
    if (problem) throw new GatewayError(problem);
    const document = orThrow(await publishVersion(c.env, { items, policies }));
    auditAdminWrite(c, {
      action: "presets.replace",
      resource: "presets",
      resourceId: "presets",
      status: 200,
      configVersion: document.version,
      details: { preset_ids: items.map((item) => item.id) },
    });
    return c.json({ ...document, updated_at: document.updated_at ?? null }, 200);
  });

  return app;
}
