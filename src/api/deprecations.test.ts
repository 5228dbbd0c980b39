// Deprecated operations announce themselves from the one table: Deprecation (RFC 9745), Sunset (RFC 8594)
// and Link headers on every answer of the operation (errors and pass-through responses too), nothing on
// other operations; and the OpenAPI document marks the operation or field deprecated.
import { SELF } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { deprecationHeaders, markDeprecated, type Deprecation } from "./deprecations";

const TABLE: Deprecation[] = [
  { operation: "GET /admin/v1/tenants/{id}", deprecated: "2026-01-15", sunset: "2026-09-30", replacement: "https://docs.example.net/api/tenants#read" },
  { operation: "GET /external/v1/audit", field: "response.200.body.data[].route", deprecated: "2026-02-01", sunset: "2026-10-01", replacement: "Read `model` instead." },
  { operation: "GET /external/v1/audit", field: "request.query.from", deprecated: "2026-03-01", sunset: "2026-11-01", replacement: "Use `since`." },
  { operation: "POST /admin/v1/tenants", field: "request.body.name", deprecated: "2026-05-01", sunset: "2026-05-01", replacement: "x", immediate: "security fix: names were unbounded" },
];

function appWith(entries: Deprecation[]) {
  const app = new Hono();
  app.use("*", deprecationHeaders(entries));
  app.get("/admin/v1/tenants/:id", (c) => (c.req.param("id") === "missing" ? c.json({ error: {} }, 404) : c.json({ id: c.req.param("id") })));
  app.patch("/admin/v1/tenants/:id", (c) => c.json({}));
  app.get("/admin/v1/tenants/:id/keys", (c) => c.json({}));
  app.get("/external/v1/audit", () => Response.redirect("https://elsewhere.example.net/", 302));
  app.post("/admin/v1/tenants", (c) => c.json({}, 201));
  return app;
}

describe("Deprecation and Sunset headers", () => {
  const app = appWith(TABLE);

  it("are on every answer of a deprecated operation: its date, its sunset and where to go", async () => {
    for (const id of ["ten_1", "missing"]) {
      const res = await app.request(`/admin/v1/tenants/${id}`);
      expect(res.headers.get("deprecation")).toBe(`@${Date.UTC(2026, 0, 15) / 1000}`);
      expect(res.headers.get("sunset")).toBe("Wed, 30 Sep 2026 00:00:00 GMT");
      expect(res.headers.get("link")).toBe('<https://docs.example.net/api/tenants#read>; rel="deprecation"');
    }
  });

  it("take the earliest dates of an operation's deprecated fields, and reach an immutable pass-through response", async () => {
    const res = await app.request("/external/v1/audit");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://elsewhere.example.net/");
    expect(res.headers.get("deprecation")).toBe(`@${Date.UTC(2026, 1, 1) / 1000}`);
    expect(res.headers.get("sunset")).toBe("Thu, 01 Oct 2026 00:00:00 GMT");
    expect(res.headers.get("link")).toBeNull();
  });

  it("are not on other methods, deeper paths, immediate fixes, or anything when the table is empty", async () => {
    for (const [method, path] of [["PATCH", "/admin/v1/tenants/ten_1"], ["GET", "/admin/v1/tenants/ten_1/keys"], ["POST", "/admin/v1/tenants"]] as const) {
      const res = await app.request(path, { method });
      expect(res.headers.get("deprecation"), `${method} ${path}`).toBeNull();
      expect(res.headers.get("sunset"), `${method} ${path}`).toBeNull();
    }
    expect((await appWith([]).request("/admin/v1/tenants/ten_1")).headers.get("deprecation")).toBeNull();
  });

  it("the gateway itself sends none today (docs/api/deprecations.json is empty)", async () => {
    const res = await SELF.fetch("https://gw.test/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("deprecation")).toBeNull();
  });
});

describe("the OpenAPI document", () => {
  it("marks deprecated operations, parameters and fields (through $refs and arrays)", async () => {
    const doc = (await (await SELF.fetch("https://gw.test/openapi.json")).json()) as Record<string, any>;
    markDeprecated(doc, TABLE);
    expect(doc.paths["/admin/v1/tenants/{id}"].get.deprecated).toBe(true);
    expect(doc.paths["/admin/v1/tenants/{id}"].patch.deprecated).toBeUndefined();
    expect(doc.paths["/external/v1/audit"].get.parameters.find((p: any) => p.name === "from").deprecated).toBe(true);
    expect(doc.components.schemas.TenantAuditRecord.properties.route.deprecated).toBe(true);
    expect(doc.components.schemas.TenantAuditRecord.properties.model.deprecated).toBeUndefined();
    // An immediate fix is no deprecation.
    expect(doc.components.schemas.CreateTenant.properties.name.deprecated).toBeUndefined();
  });
});
