// Admin routes for the failed-login throttle (src/auth/login-throttle.ts): which sources are locked out
// now, and lifting one early once its cause is handled (a tool with a stale token). Owners only.
import { createRoute, z } from "@hono/zod-openapi";
import { GLOBAL_SUBJECT } from "../auth/login-throttle";
import { err, fail, ok, type Result } from "../errors";
import { adminAccessFor } from "../objects";
import { auditAdminWrite } from "./audit";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const LockoutSchema = z
  .object({
    source: z.string().openapi({ description: "An IPv4 address, an IPv6 /64, `unknown`, or `*` (the global ceiling, which locks only the break-glass token)." }),
    failures: z.number().int(),
    locked_until: z.string(),
  })
  .openapi("AdminLoginLockout");

const ClearLockoutSchema = z.strictObject({ source: z.string().min(1).max(64) }).openapi("ClearAdminLoginLockout");

const common = { tags: ["Admin tokens"], ...adminAccess("tokens") };

const listLockouts = createRoute({
  ...common,
  method: "get",
  path: "/login-lockouts",
  operationId: "listAdminLoginLockouts",
  summary: "Sources locked out of the admin API now (failed logins)",
  responses: { 200: json(z.object({ data: z.array(LockoutSchema) }), "The current lockouts"), ...errors(401, 503) },
});

const clearLockout = createRoute({
  ...common,
  method: "post",
  path: "/login-lockouts/clear",
  operationId: "clearAdminLoginLockout",
  summary: "Lift one source's lockout (and reset its failure count) before it expires",
  request: { body: jsonBody(ClearLockoutSchema) },
  responses: { 200: json(z.object({ source: z.string(), cleared: z.boolean() }), "Whether the source was locked"), ...errors(400, 401, 503) },
});

async function withAccess<T>(env: Parameters<typeof adminAccessFor>[0], call: (a: ReturnType<typeof adminAccessFor>) => Promise<T>): Promise<Result<T>> {
  try {
    return ok(await call(adminAccessFor(env)));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "admin access object call failed", error: String(error) }));
    return err(fail("auth_unavailable", "The admin token store is unavailable; nothing was changed. Try again shortly."));
  }
}

export function loginLockoutRoutes() {
  const app = adminRouter();

  app.openapi(listLockouts, async (c) => {
    const locked = orThrow(await withAccess(c.env, (a) => a.lockouts(Date.now())));
    return c.json({ data: locked.map((l) => ({ source: l.subject, failures: l.failures, locked_until: new Date(l.lockedUntil).toISOString() })) }, 200);
  });

  app.openapi(clearLockout, async (c) => {
    const { source } = c.req.valid("json");
    const now = Date.now();
    const before = orThrow(await withAccess(c.env, (a) => a.failures(source)));
    orThrow(await withAccess(c.env, (a) => a.clearFailures(source)));
    const cleared = before.lockedUntil > now;
    auditAdminWrite(c, { action: "admin_login.unlock", resource: "admin_login", resourceId: source, status: 200, details: { was_locked: cleared, global: source === GLOBAL_SUBJECT } });
    return c.json({ source, cleared }, 200);
  });

  return app;
}
