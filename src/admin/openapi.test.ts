// GET /openapi.json: an OpenAPI 3.1 document generated from the zod schemas, covering the admin API
// and both gateway channels, whose references all resolve and whose path parameters are all declared,
// with an operationId on every operation (clients generated from it name their methods by it).
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";

type Operation = { operationId?: string; tags?: string[]; parameters?: { name: string; in: string }[]; security?: Record<string, string[]>[]; requestBody?: any; responses: Record<string, any> };
type Doc = { openapi: string; info: { title: string; version: string }; servers?: { url: string }[]; tags?: { name: string; description?: string }[]; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, any>; securitySchemes: Record<string, any> } };
let doc: Doc;
let res: Response;

beforeAll(async () => {
  res = await SELF.fetch("https://gw.test/openapi.json");
  doc = (await res.json()) as Doc;
});

function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 JSON document", () => {
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBeTruthy();
    expect(doc.components.securitySchemes).toHaveProperty("AdminToken");
  });

  it("lists every admin route and every gateway endpoint on both channels", () => {
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    for (const op of [
      "POST /admin/v1/tenants",
      "GET /admin/v1/tenants",
      "GET /admin/v1/tenants/{id}",
      "PATCH /admin/v1/tenants/{id}",
      "POST /admin/v1/tenants/{id}/credits",
      "POST /admin/v1/tenants/{tenant_id}/keys",
      "GET /admin/v1/tenants/{tenant_id}/keys",
      "GET /admin/v1/tenants/{tenant_id}/keys/{key_id}",
      "PATCH /admin/v1/tenants/{tenant_id}/keys/{key_id}",
      "POST /admin/v1/tenants/{tenant_id}/keys/{key_id}/revoke",
      "POST /admin/v1/tenants/{tenant_id}/keys/{key_id}/freeze",
      "POST /admin/v1/tenants/{tenant_id}/keys/{key_id}/unfreeze",
      "POST /admin/v1/tenants/{tenant_id}/keys/{key_id}/rotate-secret",
      "POST /admin/v1/services",
      "GET /admin/v1/services",
      "GET /admin/v1/services/{id}",
      "PATCH /admin/v1/services/{id}",
      "POST /admin/v1/services/{id}/revoke",
      "GET /admin/v1/presets",
      "PUT /admin/v1/presets",
      "PUT /admin/v1/templates/{name}",
      "GET /admin/v1/templates/{name}",
      "GET /admin/v1/templates/{name}/versions/{version}",
      "GET /admin/v1/limits/global",
      "PUT /admin/v1/limits/global",
      ...["external", "internal"].flatMap((ch) => [`POST /${ch}/v1/chat/completions`, `POST /${ch}/v1/embeddings`, `POST /${ch}/v1/messages`, `GET /${ch}/v1/models`]),
      "GET /health",
      "GET /internal/v1/health",
      "GET /internal/v1/metrics",
      "GET /external/v1/health",
      "GET /external/v1/audit",
      "GET /external/v1/usage",
    ]) {
      expect(ops).toContain(op);
    }
  });

  it("declares every path parameter, an auth scheme and an error body on every operation", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      const params = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(methods)) {
        // The liveness probe is public and takes no input.
        if (path === "/health") {
          expect(op.security).toEqual([]);
          continue;
        }
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual(params.sort());
        expect(op.security?.length, `${method} ${path}`).toBeGreaterThan(0);
        const scheme = Object.keys(op.security![0]!)[0]!;
        expect(doc.components.securitySchemes).toHaveProperty(scheme);
        expect(Object.keys(op.responses).some((code) => code.startsWith("4")), `${method} ${path}`).toBe(true);
        if (path.startsWith("/admin/")) expect(scheme).toBe("AdminToken");
      }
    }
  });

  it("takes request bodies from the zod schemas that validate them", () => {
    const createTenant = doc.paths["/admin/v1/tenants"]!.post!.requestBody.content["application/json"].schema;
    expect(createTenant.$ref).toBe("#/components/schemas/CreateTenant");
    expect(doc.components.schemas.CreateTenant.required).toContain("name");
    expect(doc.components.schemas.CreateTenant.additionalProperties).toBe(false);
    const chat = doc.paths["/external/v1/chat/completions"]!.post!.requestBody.content["application/json"].schema;
    expect(chat.properties).toHaveProperty("messages");
    expect(chat.required).toEqual(expect.arrayContaining(["model", "messages"]));
    const externalHeaders = doc.paths["/external/v1/chat/completions"]!.post!.parameters!.filter((p) => p.in === "header").map((p) => p.name);
    expect(externalHeaders).toEqual(expect.arrayContaining(["x-gateway-timestamp", "x-gateway-nonce", "x-gateway-signature"]));
    // The create response extends ApiKey with the two shown-once secrets; nothing else carries them.
    const created = doc.components.schemas.CreatedApiKey;
    expect(created.allOf[0].$ref).toBe("#/components/schemas/ApiKey");
    expect(created.allOf[1].required).toEqual(["key", "signing_secret"]);
    expect(doc.components.schemas.ApiKey.properties).not.toHaveProperty("signing_secret");
    expect(doc.components.schemas.ApiKey.properties).not.toHaveProperty("signing_secret_sealed");
  });

  it("names every operation with a unique operationId (the method name in generated clients)", () => {
    const ids = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op.operationId] as const));
    const missing = ids.filter(([, id]) => !id).map(([op]) => op);
    expect(missing, "operations without an operationId: add `operationId` to their createRoute / registerPath").toEqual([]);
    for (const [op, id] of ids) expect(id, op).toMatch(/^[a-z][A-Za-z0-9]*$/);
    const seen = ids.map(([, id]) => id);
    expect(seen.filter((id, i) => seen.indexOf(id) !== i), "operationIds used twice").toEqual([]);
  });

  it("declares its servers, and every tag an operation uses with a description", () => {
    expect(doc.servers?.length).toBeGreaterThan(0);
    const declared = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const tag of op.tags!) expect(declared.get(tag), `tag "${tag}" of ${method} ${path}: add it to TAGS in src/admin/openapi.ts`).toBeTruthy();
      }
    }
  });

  it("has no dangling $ref", () => {
    for (const ref of refs(doc)) {
      const name = ref.replace("#/components/schemas/", "");
      expect(ref.startsWith("#/components/schemas/"), ref).toBe(true);
      expect(doc.components.schemas, ref).toHaveProperty(name);
    }
  });
});
