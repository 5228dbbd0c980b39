// Admin authentication: every admin route (taken from the OpenAPI document, so a new route cannot
// slip through) refuses a missing or wrong token with 401 before validating anything; without ADMIN_TOKEN
// only named tokens open it, never nothing.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../app";
import { adminAccessFor } from "../objects";
import { adminTokenMatches } from "./admin-token";
import { GLOBAL_SUBJECT } from "./login-throttle";

const TOKEN = "test-admin-token";

async function adminRoutes(): Promise<{ method: string; path: string }[]> {
  const doc = (await (await SELF.fetch("https://gw.test/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/admin/v1/"))
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{[a-z_]+\}/g, "x1") })));
}

function send(method: string, path: string, authorization?: string, source?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // Each route from its own address: the login throttle (admin-login-throttle.test.ts) would otherwise answer 429.
  if (source !== undefined) headers["cf-connecting-ip"] = source;
  if (authorization !== undefined) headers.authorization = authorization;
  // A body that would fail validation: authentication must answer first.
  return SELF.fetch(`https://gw.test${path}`, { method, headers, body: method === "GET" ? undefined : "{not json" });
}

describe("admin token", () => {
  it("compares equal tokens as equal and anything else as different, whatever the length", async () => {
    expect(await adminTokenMatches(TOKEN, TOKEN)).toBe(true);
    for (const other of ["", "t", TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), `${TOKEN.slice(0, -1)}N`]) {
      expect(await adminTokenMatches(TOKEN, other)).toBe(false);
    }
  });

  it("every admin route answers 401 admin_unauthorized without the right bearer token", async () => {
    const routes = await adminRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(20);
    const wrong = [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${btoa(`admin:${TOKEN}`)}`, "Bearer ", `Bearer ${TOKEN} extra`];
    for (const [i, { method, path }] of routes.entries()) {
      for (const authorization of wrong) {
        const res = await send(method, path, authorization, `10.${i >> 8}.${i & 255}.1`);
        expect(res.status, `${method} ${path} with ${authorization}`).toBe(401);
        const body = (await res.json()) as { error: { code: string; type: string }; trace_id: string };
        expect(body.error).toMatchObject({ code: "admin_unauthorized", type: "authentication_error" });
        expect(body.trace_id).toEqual(expect.any(String));
        expect(res.headers.get("www-authenticate")).toContain("Bearer");
      }
    }
    // About 300 sequential requests through the Worker: seconds on a loaded machine.
    await adminAccessFor(env).clearFailures(GLOBAL_SUBJECT);
  }, 30_000);

  it("unknown admin paths are also 401 without a token, and 404 with one", async () => {
    expect((await send("GET", "/admin/v1/nothing")).status).toBe(401);
    expect((await send("GET", "/admin/v1/nothing", `Bearer ${TOKEN}`)).status).toBe(404);
  });

  it("accepts the scheme in any case", async () => {
    const res = await SELF.fetch("https://gw.test/admin/v1/presets", { headers: { authorization: `bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
  });

  it("with ADMIN_TOKEN unset, the break-glass token is off and only named tokens open the admin API, never nothing", async () => {
    const created = await SELF.fetch("https://gw.test/admin/v1/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "named", role: "read_only" }),
    });
    const named = ((await created.json()) as { token: string }).token;
    const app = buildApp();
    for (const token of [undefined, ""]) {
      for (const [authorization, status] of [["Bearer ", 401], [`Bearer ${TOKEN}`, 401], [`Bearer ${named}`, 200]] as const) {
        const ctx = createExecutionContext();
        const res = await app.request("/admin/v1/tenants", { headers: { authorization, "cf-connecting-ip": "192.0.2.77" } }, { ...env, ADMIN_TOKEN: token }, ctx);
        await waitOnExecutionContext(ctx);
        expect(res.status, `${authorization} with ADMIN_TOKEN ${JSON.stringify(token)}`).toBe(status);
      }
    }
  });

  it("the OpenAPI document needs no token", async () => {
    expect((await SELF.fetch("https://gw.test/openapi.json")).status).toBe(200);
  });
});
