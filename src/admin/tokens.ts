// Admin routes for named admin tokens: create (the secret is shown once; only its SHA-256 is kept, in
// the AdminAccess Durable Object), list, read, rotate (a new secret, the old one dead at once) and
// revoke (final, at once in every isolate: every admin login asks the object, nothing is cached).
import { createRoute, z } from "@hono/zod-openapi";
import type { StoredAdminToken } from "../../durable-objects/admin-access";
import { ADMIN_ROLES } from "../auth/roles";
import { err, fail, GatewayError, ok, type Result } from "../errors";
import { adminAccessFor } from "../objects";
import { ADMIN_TOKEN_PREFIX, generateAdminToken, hashApiKey, randomId } from "../security/api-keys";
import { auditAdminWrite } from "./audit";
import { loadTenant } from "./records";
import { adminRouter, notFound, orThrow } from "./router";
import { adminAccess, errors, idParam, json, jsonBody, pageOf, PageQuerySchema } from "./schemas";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const AdminTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ADMIN_ROLES),
    tenant_id: z.string().nullable().openapi({ description: "Set: the token sees and changes only this tenant." }),
    /** The first characters of the secret, to recognise it; never enough to use it. */
    prefix: z.string(),
    status: z.enum(["active", "revoked"]),
    created_by: z.string().openapi({ description: "Id of the admin token that created it (`env:ADMIN_TOKEN` for the break-glass token)." }),
    created_at: z.string(),
    updated_at: z.string().nullable(),
    rotated_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable().openapi({ description: "Last successful login, to the minute." }),
    version: z.number().int(),
  })
  .openapi("AdminToken");

const IssuedAdminTokenSchema = AdminTokenSchema.extend({
  token: z.string().openapi({ description: "The admin token. Shown only in this response: store it now.", example: "gat_3fZq8Wc1Lr0bTnY2kPxA7dEeHh9JmQv0a1B2c3" }),
}).openapi("IssuedAdminToken");

const CreateAdminTokenSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    role: z.enum(ADMIN_ROLES).openapi({ description: "What the token may do: see docs/api/admin.md#roles." }),
    tenant_id: idParam("tenant_id").optional().openapi({ description: "Scope the token to one tenant." }),
  })
  .openapi("CreateAdminToken");

function tokenView(t: StoredAdminToken): z.infer<typeof AdminTokenSchema> {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    tenant_id: t.tenantId,
    prefix: t.prefix,
    status: t.status,
    created_by: t.createdBy,
    created_at: iso(t.createdAt)!,
    updated_at: iso(t.updatedAt),
    rotated_at: iso(t.rotatedAt),
    revoked_at: iso(t.revokedAt),
    last_used_at: iso(t.lastUsedAt),
    version: t.version,
  };
}

/** A fresh secret: its display prefix and hash (what the object keeps) and the secret itself (shown once). */
async function issueSecret(): Promise<{ token: string; tokenHash: string; prefix: string }> {
  const token = generateAdminToken();
  return { token, tokenHash: await hashApiKey(token), prefix: token.slice(0, ADMIN_TOKEN_PREFIX.length + 4) };
}

async function callAccess<T>(call: (access: ReturnType<typeof adminAccessFor>) => Promise<T>, env: Parameters<typeof adminAccessFor>[0]): Promise<Result<T>> {
  try {
    return ok(await call(adminAccessFor(env)));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "admin access object call failed", error: String(error) }));
    return err(fail("auth_unavailable", "The admin token store is unavailable; nothing was changed. Try again shortly."));
  }
}

const TokenPath = z.object({ id: idParam("id") });
const common = { tags: ["Admin tokens"], ...adminAccess("tokens") };

const createToken = createRoute({
  ...common,
  method: "post",
  path: "/tokens",
  operationId: "createAdminToken",
  summary: "Create a named admin token with a role and an optional tenant scope (the secret is shown only in this response)",
  request: { body: jsonBody(CreateAdminTokenSchema) },
  responses: { 201: json(IssuedAdminTokenSchema, "The new token, with its secret"), ...errors(400, 401, 404, 503) },
});
const listTokens = createRoute({
  ...common,
  method: "get",
  path: "/tokens",
  operationId: "listAdminTokens",
  summary: "List admin tokens (id order; revoked ones included)",
  request: { query: PageQuerySchema },
  responses: { 200: json(pageOf(AdminTokenSchema), "A page of tokens (never a secret)"), ...errors(400, 401, 503) },
});
const getToken = createRoute({
  ...common,
  method: "get",
  path: "/tokens/{id}",
  operationId: "getAdminToken",
  summary: "Read an admin token",
  request: { params: TokenPath },
  responses: { 200: json(AdminTokenSchema, "The token (never its secret)"), ...errors(400, 401, 404, 503) },
});
const rotateToken = createRoute({
  ...common,
  method: "post",
  path: "/tokens/{id}/rotate",
  operationId: "rotateAdminToken",
  summary: "Give an admin token a new secret (shown only here); the old secret stops working at once",
  request: { params: TokenPath },
  responses: { 200: json(IssuedAdminTokenSchema, "The token with its new secret"), ...errors(400, 401, 404, 409, 503) },
});
const revokeToken = createRoute({
  ...common,
  method: "post",
  path: "/tokens/{id}/revoke",
  operationId: "revokeAdminToken",
  summary: "Revoke an admin token (final; refused from the very next request, in every isolate)",
  request: { params: TokenPath },
  responses: { 200: json(AdminTokenSchema, "The revoked token"), ...errors(400, 401, 404, 503) },
});

const ID_CURSOR = /^adt_[A-Za-z0-9]{1,60}$/;

export function tokenRoutes() {
  const app = adminRouter();

  app.openapi(createToken, async (c) => {
    const body = c.req.valid("json");
    if (body.tenant_id !== undefined) {
      const tenant = await loadTenant(c.env, body.tenant_id);
      if (!tenant.ok) throw new GatewayError({ ...tenant.failure, param: "tenant_id" });
    }
    const secret = await issueSecret();
    const id = randomId("adt");
    const created = orThrow(
      await callAccess(
        (a) => a.createToken({ id, name: body.name, role: body.role, tenantId: body.tenant_id ?? null, prefix: secret.prefix, tokenHash: secret.tokenHash, createdBy: c.get("admin").tokenId, now: Date.now() }),
        c.env,
      ),
    );
    auditAdminWrite(c, { action: "admin_token.create", resource: "admin_token", resourceId: id, tenantId: body.tenant_id ?? null, status: 201, details: { role: body.role, tenant_scope: body.tenant_id ?? null } });
    return c.json({ ...tokenView(created), token: secret.token }, 201);
  });

  app.openapi(listTokens, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    if (cursor !== undefined && !ID_CURSOR.test(cursor)) throw new GatewayError(fail("invalid_request", "The cursor is not valid for this list; start again without it.", { param: "cursor" }));
    const page = orThrow(await callAccess((a) => a.listTokens(limit, cursor), c.env));
    return c.json({ data: page.map(tokenView), next_cursor: page.length === limit ? page[page.length - 1]!.id : null }, 200);
  });

  app.openapi(getToken, async (c) => {
    const { id } = c.req.valid("param");
    const token = orThrow(await callAccess((a) => a.getToken(id), c.env));
    return token ? c.json(tokenView(token), 200) : notFound(`Admin token ${id}`);
  });

  app.openapi(rotateToken, async (c) => {
    const { id } = c.req.valid("param");
    const current = orThrow(await callAccess((a) => a.getToken(id), c.env));
    if (!current) notFound(`Admin token ${id}`);
    if (current.status !== "active") throw new GatewayError(fail("invalid_state", "This admin token is revoked; revocation is final."));
    const secret = await issueSecret();
    const rotated = orThrow(await callAccess((a) => a.rotateToken(id, secret.tokenHash, secret.prefix, Date.now()), c.env));
    // Revoked between the read and the rotation: still final.
    if (!rotated) throw new GatewayError(fail("invalid_state", "This admin token is revoked; revocation is final."));
    auditAdminWrite(c, { action: "admin_token.rotate", resource: "admin_token", resourceId: id, tenantId: rotated.tenantId, status: 200, details: { role: rotated.role } });
    return c.json({ ...tokenView(rotated), token: secret.token }, 200);
  });

  app.openapi(revokeToken, async (c) => {
    const { id } = c.req.valid("param");
    const revoked = orThrow(await callAccess((a) => a.revokeToken(id, Date.now()), c.env));
    if (!revoked) notFound(`Admin token ${id}`);
    auditAdminWrite(c, { action: "admin_token.revoke", resource: "admin_token", resourceId: id, tenantId: revoked.tenantId, status: 200, details: { role: revoked.role } });
    return c.json(tokenView(revoked), 200);
  });

  return app;
}
