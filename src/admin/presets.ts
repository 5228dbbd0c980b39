// Admin routes for the provider presets document: read it, or replace it whole. Every upstream
// base_url passes the SSRF guard at write time, so an internal address can never be configured.
import { createRoute, z } from "@hono/zod-openapi";
import { settingsOf } from "../env";
import { fail, GatewayError } from "../errors";
import { kvKeys } from "../config/kv-keys";
import { PresetItemSchema, PresetsDocumentSchema, type PresetsDocument } from "../config/schemas";
import { checkEgressUrl } from "../security/egress";
import { auditAdminWrite } from "./audit";
import { readJson, writeJson } from "./kv";
import { adminRouter, orThrow } from "./router";
import { ADMIN_SECURITY, errors, json, jsonBody } from "./schemas";

const PresetsSchema = PresetsDocumentSchema.extend({ updated_at: z.string().nullable() }).openapi("Presets");

const PutPresetsSchema = z
  .strictObject({ items: z.array(PresetItemSchema).max(500) })
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
  tags: ["Presets"],
  summary: "Read the provider presets",
  security: ADMIN_SECURITY,
  responses: { 200: json(PresetsSchema, "The presets document (version 0 and no items before the first write)"), ...errors(401, 503) },
});

const putPresets = createRoute({
  method: "put",
  path: "/presets",
  tags: ["Presets"],
  summary: "Replace the provider presets (bumps the version)",
  security: ADMIN_SECURITY,
  request: { body: jsonBody(PutPresetsSchema) },
  responses: { 200: json(PresetsSchema, "The stored document"), ...errors(400, 401, 503) },
});

export function presetRoutes() {
  const app = adminRouter();

  app.openapi(getPresets, async (c) => {
    const stored = orThrow(await readJson(c.env, kvKeys.presets(), StoredPresetsSchema));
    return c.json({ version: stored?.version ?? 0, items: stored?.items ?? [], updated_at: stored?.updated_at ?? null }, 200);
  });

  app.openapi(putPresets, async (c) => {
    const { items } = c.req.valid("json");
    const allowLoopback = settingsOf(c.env).allowLoopbackUpstreams;
    items.forEach((item, i) => {
      const verdict = checkEgressUrl(item.base_url, { allowLoopback });
      if (!("ok" in verdict)) {
        throw new GatewayError(fail("invalid_request", `items.${i}.base_url is not an allowed upstream: ${verdict.message}`, { param: `items.${i}.base_url` }));
      }
    });
    const current = orThrow(await readJson(c.env, kvKeys.presets(), StoredPresetsSchema));
    const updatedAt = new Date().toISOString();
    const document: PresetsDocument & { updated_at: string } = { version: (current?.version ?? 0) + 1, items, updated_at: updatedAt };
    orThrow(await writeJson(c.env, kvKeys.presets(), document));
    auditAdminWrite(c, {
      action: "presets.replace",
      resource: "presets",
      resourceId: "presets",
      status: 200,
      configVersion: document.version,
      details: { preset_ids: items.map((item) => item.id) },
    });
    return c.json(document, 200);
  });

  return app;
}
