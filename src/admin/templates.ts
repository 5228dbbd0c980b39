// Admin routes for prompt templates (internal channel): each PUT stores the next immutable version
// and moves `latest`; Jinja is parsed at write time, so a broken template is a 400 here, not at use.
import { createRoute, z } from "@hono/zod-openapi";
import { parse, tokenize } from "@huggingface/jinja";
import { fail, GatewayError } from "../errors";
import { kvKeys } from "../config/kv-keys";
import { PromptTemplateSchema, type PromptTemplate } from "../config/templates";
import { auditAdminWrite } from "./audit";
import { readJson, writeJson } from "./kv";
import { adminRouter, notFound, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const TemplateSchema = PromptTemplateSchema.openapi("PromptTemplate");

const PutTemplateSchema = z
  .strictObject({ engine: PromptTemplateSchema.shape.engine, messages: PromptTemplateSchema.shape.messages.max(100) })
  .openapi("PutPromptTemplate");

const NamePath = z.object({
  name: PromptTemplateSchema.shape.name.openapi({ param: { name: "name", in: "path" }, example: "support-triage" }),
});
const VersionPath = NamePath.extend({
  version: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: "version", in: "path" }, example: 3 }),
});

/** The first message that does not parse, as a 400 naming it. */
function jinjaProblem(messages: PromptTemplate["messages"]): { index: number; message: string } | undefined {
  for (const [index, m] of messages.entries()) {
    try {
      parse(tokenize(m.content));
    } catch (error) {
      return { index, message: error instanceof Error ? error.message : String(error) };
    }
  }
  return undefined;
}

const putTemplate = createRoute({
  method: "put",
  path: "/templates/{name}",
  operationId: "putTemplate",
  tags: ["Templates"],
  summary: "Store the next version of a prompt template",
  ...adminAccess("config"),
  request: { params: NamePath, body: jsonBody(PutTemplateSchema) },
  responses: { 201: json(TemplateSchema, "The stored version"), ...errors(400, 401, 503) },
});

const getLatest = createRoute({
  method: "get",
  path: "/templates/{name}",
  operationId: "getTemplate",
  tags: ["Templates"],
  summary: "Read the latest version of a prompt template",
  ...adminAccess("config"),
  request: { params: NamePath },
  responses: { 200: json(TemplateSchema, "The latest version"), ...errors(400, 401, 404, 503) },
});

const getVersion = createRoute({
  method: "get",
  path: "/templates/{name}/versions/{version}",
  operationId: "getTemplateVersion",
  tags: ["Templates"],
  summary: "Read one version of a prompt template",
  ...adminAccess("config"),
  request: { params: VersionPath },
  responses: { 200: json(TemplateSchema, "That version"), ...errors(400, 401, 404, 503) },
});

export function templateRoutes() {
  const app = adminRouter();

  app.openapi(putTemplate, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.engine === "jinja") {
      const problem = jinjaProblem(body.messages);
      if (problem) {
        const param = `messages.${problem.index}.content`;
        throw new GatewayError(fail("invalid_request", `${param} is not a valid Jinja template: ${problem.message}`, { param }));
      }
    }
    const latest = orThrow(await readJson(c.env, kvKeys.templateLatest(name), PromptTemplateSchema));
    // KV has no compare-and-set: two PUTs of one name at the same instant may pick the same version (last write wins).
    const template: PromptTemplate = { name, version: (latest?.version ?? 0) + 1, engine: body.engine, messages: body.messages, created_at: new Date().toISOString() };
    // The version first: `latest` never points at a version that was not written.
    orThrow(await writeJson(c.env, kvKeys.template(name, template.version), template));
    orThrow(await writeJson(c.env, kvKeys.templateLatest(name), template));
    auditAdminWrite(c, { action: "template.put", resource: "template", resourceId: name, status: 201, configVersion: template.version, details: { engine: template.engine } });
    return c.json(template, 201);
  });

  app.openapi(getLatest, async (c) => {
    const { name } = c.req.valid("param");
    const template = orThrow(await readJson(c.env, kvKeys.templateLatest(name), PromptTemplateSchema));
    return template ? c.json(template, 200) : notFound(`Template ${name}`);
  });

  app.openapi(getVersion, async (c) => {
    const { name, version } = c.req.valid("param");
    const template = orThrow(await readJson(c.env, kvKeys.template(name, version), PromptTemplateSchema));
    return template ? c.json(template, 200) : notFound(`Template ${name} version ${version}`);
  });

  return app;
}
