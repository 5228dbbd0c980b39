// The /v1 compatibility check (scripts/api-compat.mjs, docs/api/versioning.md): the committed document
// keeps the contract of the committed baseline, the deprecations table is well formed, and the check
// catches each kind of break on real copies of the baseline while letting additions through.
import { describe, expect, it } from "vitest";
import { BASELINE, CURRENT, DEPRECATIONS, breakingChanges, deprecationProblems, readJson, unallowedChanges } from "./api-compat.mjs";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };
const baseline = readJson(BASELINE) as Doc;
const changed = (edit: (doc: Doc) => void) => {
  const doc = structuredClone(baseline);
  edit(doc);
  return breakingChanges(baseline, doc).map((c: { operation: string; field?: string; problem: string }) => `${c.operation} ${c.field ?? ""}: ${c.problem}`);
};

describe("the /v1 contract", () => {
  it(`${CURRENT} keeps every route and field of ${BASELINE}, bar recorded deprecations past their sunset`, () => {
    const problems = unallowedChanges(baseline, readJson(CURRENT), readJson(DEPRECATIONS));
    // On failure: restore what was lost, or deprecate it first (docs/api/versioning.md).
    expect(problems).toEqual([]);
  });

  it(`${DEPRECATIONS} is well formed: dates, at least 180 days to sunset, a replacement, names that exist`, () => {
    expect(deprecationProblems(readJson(DEPRECATIONS), baseline)).toEqual([]);
  });
});

describe("the compatibility check", () => {
  it("lets additions through: routes, optional request fields, answer fields and answer enum values", () => {
    expect(
      changed((doc) => {
        doc.paths["/admin/v1/new-thing"] = { get: { operationId: "getNewThing", responses: { 200: { description: "x" } } } };
        doc.components.schemas.CreateTenant.properties.nickname = { type: "string" };
        doc.components.schemas.TenantAuditRecord.properties.region = { type: "string" };
        doc.components.schemas.TenantAuditRecord.properties.error_source.enum.push("policy");
        doc.paths["/external/v1/audit"]!.get.parameters.push({ name: "region", in: "query", required: false, schema: { type: "string" } });
      }),
    ).toEqual([]);
  });

  it("catches a removed route and a renamed operationId", () => {
    expect(changed((doc) => delete doc.paths["/admin/v1/tenants/{id}"]!.get)).toEqual(["GET /admin/v1/tenants/{id} : removed"]);
    expect(changed((doc) => (doc.paths["/admin/v1/tenants"]!.post.operationId = "makeTenant"))).toEqual(["POST /admin/v1/tenants operationId: renamed from createTenant to makeTenant"]);
  });

  it("catches what a client sends no longer accepted: a field removed, a new required one, an enum value or a type taken away, a bound tightened", () => {
    expect(changed((doc) => delete doc.components.schemas.CreateTenant.properties.ip_allowlist)).toContain(
      "POST /admin/v1/tenants request.body.ip_allowlist: removed from the request (a client sending it is refused)",
    );
    expect(
      changed((doc) => {
        doc.components.schemas.CreateTenant.properties.region = { type: "string" };
        doc.components.schemas.CreateTenant.required.push("region");
      }),
    ).toEqual(["POST /admin/v1/tenants request.body.region: is new and required"]);
    expect(changed((doc) => (doc.components.schemas.CreateTenant.properties.name.maxLength = 100))).toEqual(["POST /admin/v1/tenants request.body.name: maxLength tightened from 200 to 100"]);
    const roles = changed((doc) => {
      const variants = doc.paths["/external/v1/chat/completions"]!.post.requestBody.content["application/json"].schema.properties.messages.items.oneOf as any[];
      variants.splice(variants.findIndex((v) => v.properties.role.enum[0] === "tool"), 1);
    });
    expect(roles).toContain('POST /external/v1/chat/completions request.body.messages[].role: no longer accepts "tool"');
    expect(
      changed((doc) => {
        const from = doc.paths["/external/v1/audit"]!.get.parameters.find((p: any) => p.name === "from");
        from.required = true;
        from.schema.type = "integer";
      }),
    ).toEqual(["GET /external/v1/audit request.query.from: no longer accepts type string", "GET /external/v1/audit request.query.from: became required"]);
  });

  it("catches what a client receives no longer promised: a field removed, made optional or given another type, an answer dropped", () => {
    const removed = changed((doc) => delete doc.components.schemas.TenantAuditRecord.properties.route);
    expect(removed).toContain("GET /external/v1/audit response.200.body.data[].route: removed from the answer");
    const optional = changed((doc) => (doc.components.schemas.TenantAuditRecord.required = doc.components.schemas.TenantAuditRecord.required.filter((f: string) => f !== "status")));
    expect(optional).toContain("GET /external/v1/audit response.200.body.data[].status: may now be absent");
    const widened = changed((doc) => (doc.components.schemas.TenantAuditRecord.properties.status.type = ["integer", "null"]));
    expect(widened).toContain("GET /external/v1/audit response.200.body.data[].status: may now be of type null");
    const answer = changed((doc) => delete doc.paths["/admin/v1/tenants"]!.post.responses["201"]);
    expect(answer).toContain("POST /admin/v1/tenants response.201: removed from the answer");
  });

  it("allows a break only once a recorded deprecation's sunset has come; a deprecated object covers its fields", () => {
    const doc = structuredClone(baseline);
    delete doc.paths["/admin/v1/tenants/{id}"]!.get;
    delete doc.components.schemas.TenantAuditRecord.properties.route;
    const route = { operation: "GET /admin/v1/tenants/{id}", deprecated: "2026-01-01", sunset: "2026-07-01", replacement: "GET /admin/v1/tenants" };
    // The record schema is shared: the admin's audit route loses the field too.
    const fields = ["GET /external/v1/audit", "GET /admin/v1/tenants/{id}/audit"].map((operation) => ({ operation, field: "response.200.body.data[]", deprecated: "2026-01-01", sunset: "2026-07-01", replacement: "x" }));
    expect(unallowedChanges(baseline, doc, [route, ...fields], "2026-07-01")).toEqual([]);
    const early = unallowedChanges(baseline, doc, [route, ...fields], "2026-06-30");
    expect(early.map((c: { why: string }) => c.why)).toEqual(Array(3).fill("deprecated, but its sunset (2026-07-01) has not come"));
    expect(unallowedChanges(baseline, doc, [route], "2027-01-01").map((c: { why: string }) => c.why)).toEqual(Array(2).fill("no deprecation recorded in docs/api/deprecations.json"));
  });

  it("refuses a malformed table: a short lifetime, an unknown operation or field, no replacement, an immediate change without its reason", () => {
    const ok = { operation: "GET /admin/v1/tenants/{id}", deprecated: "2026-01-01", sunset: "2026-07-01", replacement: "GET /admin/v1/tenants" };
    expect(deprecationProblems([ok], baseline)).toEqual([]);
    expect(deprecationProblems([{ ...ok, sunset: "2026-03-01" }], baseline)).toEqual(["GET /admin/v1/tenants/{id}: sunset less than 180 days after deprecation"]);
    expect(deprecationProblems([{ ...ok, operation: "GET /admin/v1/nothing" }], baseline)).toEqual(["GET /admin/v1/nothing: no such operation in the baseline"]);
    expect(deprecationProblems([{ ...ok, field: "response.200.body.nothing" }], baseline)).toEqual(["GET /admin/v1/tenants/{id} response.200.body.nothing: no such field in the baseline"]);
    expect(deprecationProblems([{ ...ok, replacement: "" }], baseline)).toEqual(["GET /admin/v1/tenants/{id}: say what replaces it (replacement)"]);
    expect(deprecationProblems([{ ...ok, sunset: ok.deprecated, immediate: "" }], baseline)).toEqual(["GET /admin/v1/tenants/{id}: immediate needs its reason"]);
    expect(deprecationProblems([{ ...ok, sunset: ok.deprecated, immediate: "security fix: unbounded input" }], baseline)).toEqual([]);
  });
});
