// The tenant's own ledger on the external channel: GET /audit (its API calls, newest first, cursor
// pagination and filters) and GET /usage. The tenant comes only from the authenticated key.
import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { auditListPage, AuditListQuerySchema, tenantAuditView } from "../admin-ledger/audit-query";
import { withLedger } from "../admin-ledger/ledger-db";
import { validationFailure } from "../admin/router";
import { errorResponse, fail, type GatewayFailure } from "../errors";
import { verifyExternalCall } from "../steps/verify-signature";
import { tenantUsage } from "./usage";

export interface TenantLedgerEnv {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { tenantId: string };
}

/** Records of the tenant's own API calls; admin-channel rows about the tenant are the operator's. */
const TENANT_CHANNELS = ["external"] as const;
export const NO_STORE = { "cache-control": "no-store" } as const;

/**
 * The key's status as the TenantGuard enforces it: a frozen or revoked key, or a banned tenant,
 * reads nothing even while an isolate's cached KV record still says active.
 */
async function guardRefusal(env: AppEnv["Bindings"], tenantId: string, keyId: string): Promise<GatewayFailure | undefined> {
  let snapshot;
  try {
    snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId)).snapshot();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "tenant guard call failed", error: String(error) }));
    return fail("auth_unavailable", "The key's status cannot be checked right now; try again shortly.");
  }
  if (snapshot.tenantStatus === "banned") return fail("tenant_banned", "This tenant is banned.");
  const status = snapshot.keys[keyId]?.status;
  if (status === "frozen") return fail("key_frozen", "This API key is frozen.");
  if (status === "revoked") return fail("key_revoked", "This API key is revoked.");
  return undefined;
}

/** The same key, allowlist and signature checks as the pipeline (a GET signs an empty body and its query). */
function tenantAuth(): MiddlewareHandler<TenantLedgerEnv> {
  return async function tenantAuth(c, next) {
    const traceId = c.get("traceId");
    const verified = await verifyExternalCall({
      request: c.req.raw,
      rawBody: new Uint8Array(0),
      env: c.env,
      exec: c.executionCtx,
      clientIp: c.req.header("cf-connecting-ip") ?? null,
      receivedAt: Date.now(),
    });
    if ("kind" in verified) return errorResponse(verified, traceId);
    const refusal = await guardRefusal(c.env, verified.principal.tenantId, verified.principal.keyId);
    if (refusal) return errorResponse(refusal, traceId);
    c.set("tenantId", verified.principal.tenantId);
    await next();
  };
}

/** Mount on the external channel only: `routes.route("/", tenantLedgerRoutes())`. */
export function tenantLedgerRoutes(): Hono<TenantLedgerEnv> {
  const routes = new Hono<TenantLedgerEnv>();
  routes.use("/audit", tenantAuth());
  routes.use("/usage", tenantAuth());

  routes.get("/audit", async (c) => {
    const traceId = c.get("traceId");
    const parsed = AuditListQuerySchema.safeParse(c.req.query());
    if (!parsed.success) return errorResponse(validationFailure(parsed.error, "query"), traceId);
    const tenantId = c.get("tenantId");
    const page = await withLedger(c.env, c.executionCtx, traceId, (db) => auditListPage(db, tenantId, parsed.data, tenantAuditView, TENANT_CHANNELS));
    if ("kind" in page) return errorResponse(page, traceId);
    return c.json(page, 200, { ...NO_STORE, "x-trace-id": traceId });
  });

  routes.get("/usage", tenantUsage);
  return routes;
}
