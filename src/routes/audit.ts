// The tenant's own ledger on the external channel: GET /audit (its API calls, newest first, cursor
// pagination and filters) and GET /usage. The tenant comes only from the authenticated key.
import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { auditListPage, AuditListQuerySchema, tenantAuditView } from "../admin-ledger/audit-query";
import { withLedger } from "../admin-ledger/ledger-db";
import { validationFailure } from "../admin/router";
import { errorResponse, fail, type GatewayFailure } from "../errors";
import { authenticateReadOnly } from "../auth/read-access";
import { tenantUsage } from "./usage";

export interface TenantLedgerEnv {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { tenantId: string };
}

/** Records of the tenant's own API calls; admin-channel rows about the tenant are the operator's. */
const TENANT_CHANNELS = ["external"] as const;
export const NO_STORE = { "cache-control": "no-store" } as const;

function tenantAuth(): MiddlewareHandler<TenantLedgerEnv> {
  return async function tenantAuth(c, next) {
    const traceId = c.get("traceId");
    const auth = await authenticateReadOnly(c.req.raw, c.env, c.executionCtx);
    if (!auth.ok) return errorResponse(auth.failure, traceId);
    const principal = auth.value;
    c.set("tenantId", principal.tenantId);
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
