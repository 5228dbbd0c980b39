// Admin roles and tenant scopes, table-driven over every admin operation in the OpenAPI document (so a
// new route cannot slip through): each role against each route group, allowed or 403 insufficient_role;
// a tenant-scoped token reaches its own tenant only (another tenant is the 404 of an unknown one).
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, call, createKey, createTenant } from "./admin-helpers";

type Role = "owner" | "operator" | "billing" | "read_only";
type Area = "config" | "billing" | "ledger" | "tokens" | "cache";
type Grant = "write" | "read" | "none";

/** The roles as specified (issue 23), written out here independently of src/auth/roles.ts. */
const EXPECTED: Record<Role, Record<Area, Grant>> = {
  owner: { config: "write", billing: "write", ledger: "write", tokens: "write", cache: "write" },
  operator: { config: "write", billing: "read", ledger: "read", tokens: "none", cache: "write" },
  billing: { config: "read", billing: "write", ledger: "read", tokens: "none", cache: "none" },
  read_only: { config: "read", billing: "read", ledger: "read", tokens: "none", cache: "read" },
};
const DASHBOARD: Record<Role, boolean> = { owner: true, operator: true, billing: false, read_only: true };

/** Route groups by path: which area each admin route belongs to. */
function groupOf(path: string): Area {
  if (path.startsWith("/admin/v1/tokens") || path.startsWith("/admin/v1/login-lockouts")) return "tokens";
  if (path.endsWith("/cache/purge")) return "cache";
  if (/^\/admin\/v1\/tenants\/\{id\}\/credits$/.test(path)) return "billing";
  if (/^\/admin\/v1\/tenants\/\{id\}\/(audit|usage)/.test(path) || path.startsWith("/admin/v1/dead-letters")) return "ledger";
  return "config";
}

interface Operation {
  method: string;
  path: string;
  area: Area;
}

let operations: Operation[] = [];
const tokens = {} as Record<Role, string>;
const scoped = {} as Record<"owner" | "read_only", string>;
let tenantA = "";
let tenantB = "";
let keyB = "";

function send(method: string, path: string, token: string): Promise<Response> {
  // A body that fails validation: an allowed write answers 400 and changes nothing.
  return SELF.fetch(`https://gw.test${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: method === "GET" ? undefined : "{not json",
  });
}

async function outcome(res: Response): Promise<string> {
  const text = await res.text();
  if (res.status === 401 || res.status === 403 || res.status === 404) return `${res.status} ${JSON.parse(text).error.code}`;
  return "allowed";
}

const fill = (path: string, tenant: string) => path.replace(/\{(id|tenant_id)\}/g, (_, name) => (path.startsWith("/admin/v1/tenants/") || name === "tenant_id" ? tenant : "x1")).replace(/\{[a-z_]+\}/g, "x1");
const isTenantRoute = (path: string) => path.startsWith("/admin/v1/tenants/{");

beforeAll(async () => {
  const doc = (await (await SELF.fetch("https://gw.test/openapi.json")).json()) as { paths: Record<string, Record<string, { "x-admin-area"?: Area }>> };
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/admin/v1/"))
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, area: op["x-admin-area"] as Area })));
  tenantA = (await createTenant({ name: "A" })).id;
  tenantB = (await createTenant({ name: "B" })).id;
  keyB = (await createKey(tenantB)).id;
  for (const role of Object.keys(EXPECTED) as Role[]) {
    const res = await admin("POST", "/tokens", { name: `${role} token`, role });
    expect(res.status).toBe(201);
    tokens[role] = res.body.token;
  }
  for (const role of ["owner", "read_only"] as const) {
    const res = await admin("POST", "/tokens", { name: `${role} of A`, role, tenant_id: tenantA });
    expect(res.status).toBe(201);
    scoped[role] = res.body.token;
  }
});

describe("roles", () => {
  it("every admin operation declares the area of its route group", () => {
    expect(operations.length).toBeGreaterThanOrEqual(40);
    for (const op of operations) expect({ ...op, area: op.area }).toEqual({ ...op, area: groupOf(op.path) });
  });

  it.each(Object.keys(EXPECTED) as Role[])("%s: allowed where its grant covers the method, 403 insufficient_role elsewhere", async (role) => {
    const seen: string[] = [];
    const want: string[] = [];
    for (const op of operations) {
      const grant = EXPECTED[role][op.area];
      const allowed = grant === "write" || (grant === "read" && op.method === "GET");
      const got = await outcome(await send(op.method, fill(op.path, tenantA), tokens[role]));
      // Allowed: whatever the route answers (400 for the bad body, 404 for the placeholder ids), never 401 or 403.
      seen.push(`${op.method} ${op.path}: ${got === "allowed" || got.startsWith("404") ? "allowed" : got}`);
      want.push(`${op.method} ${op.path}: ${allowed ? "allowed" : "403 insufficient_role"}`);
    }
    expect(seen).toEqual(want);
  });

  it.each(Object.keys(DASHBOARD) as Role[])("%s on the operations dashboard", async (role) => {
    const res = await SELF.fetch("https://gw.test/internal/dashboard/data", { headers: { authorization: `Bearer ${tokens[role]}` } });
    expect(res.status).toBe(DASHBOARD[role] ? 200 : 403);
  });
});

describe("tenant-scoped tokens", () => {
  it("reach routes about their own tenant, get the unknown-tenant 404 for another tenant, and 403 on routes about no tenant", async () => {
    for (const op of operations) {
      const own = await outcome(await send(op.method, fill(op.path, tenantA), scoped.owner));
      if (op.path === "/admin/v1/tenants" && op.method === "GET") continue;
      if (!isTenantRoute(op.path)) {
        expect(`${op.method} ${op.path}: ${own}`).toBe(`${op.method} ${op.path}: 403 insufficient_role`);
        continue;
      }
      expect(`${op.method} ${op.path}: ${own}`).not.toMatch(/: 40[13] /);
      const other = await send(op.method, fill(op.path, tenantB), scoped.owner);
      const unknown = await send(op.method, fill(op.path, "ten_unknown"), scoped.owner);
      const body = (await other.json()) as { error: { code: string; message: string } };
      expect(`${op.method} ${op.path}: ${other.status} ${body.error.code}`).toBe(`${op.method} ${op.path}: 404 not_found`);
      // Exactly the answer for a tenant that does not exist, the id aside: nothing to learn about tenant B.
      const unknownBody = (await unknown.json()) as { error: { message: string } };
      expect(unknown.status).toBe(404);
      expect(body.error.message.replace(tenantB, "?")).toBe(unknownBody.error.message.replace("ten_unknown", "?"));
    }
  });

  it("cannot read another tenant's data or keys, and lists only its own tenant", async () => {
    for (const path of [`/tenants/${tenantB}`, `/tenants/${tenantB}/keys`, `/tenants/${tenantB}/keys/${keyB}`, `/tenants/${tenantB}/audit`, `/tenants/${tenantB}/usage`]) {
      const res = await call("GET", `/admin/v1${path}`, { token: scoped.read_only });
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.text).not.toContain(keyB);
    }
    const list = await call("GET", "/admin/v1/tenants", { token: scoped.read_only });
    expect(list.status).toBe(200);
    expect(list.body.data.map((t: { id: string }) => t.id)).toEqual([tenantA]);
    expect((await call("GET", `/admin/v1/tenants/${tenantA}`, { token: scoped.read_only })).status).toBe(200);
    // A scoped read-only token is still read-only on its own tenant.
    const write = await call("PATCH", `/admin/v1/tenants/${tenantA}`, { token: scoped.read_only, body: { weight: 2 } });
    expect(write.status).toBe(403);
  });

  it("never reads operations data spanning every tenant", async () => {
    const res = await SELF.fetch("https://gw.test/internal/dashboard/data", { headers: { authorization: `Bearer ${scoped.owner}` } });
    expect(res.status).toBe(403);
  });
});
