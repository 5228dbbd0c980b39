// The tenant's own ledger on the external channel: GET /audit (its API calls, newest first, cursor
// pagination and filters) and GET /usage (usage.ts). The tenant comes only from the authenticated key.
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { auditListPage, AuditListQuerySchema, tenantAuditView } from "../admin-ledger/audit-query";
import { withLedger } from "../admin-ledger/ledger-db";
import { validationFailure } from "../admin/router";
import { tenantAuth } from "../auth/middleware";
import { errorResponse } from "../errors";
import { tenantUsage } from "./usage";

/** Records of the tenant's own API calls; admin-channel rows about the tenant are the operator's. */
const TENANT_CHANNELS = ["external"] as const;

/** Mount on the external channel only: `routes.route("/", tenantLedgerRoutes())`. */
export function tenantLedgerRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("/audit", tenantAuth());
  routes.use("/usage", tenantAuth());

  routes.get("/audit", async (c) => {
    const traceId = c.get("traceId");
    const parsed = AuditListQuerySchema.safeParse(c.req.query());
    if (!parsed.success) return errorResponse(validationFailure(parsed.error, "query"), traceId);
    const tenantId = c.get("principal").tenantId;
    const page = await withLedger(c.env, c.executionCtx, traceId, (db) => auditListPage(db, tenantId, parsed.data, tenantAuditView, TENANT_CHANNELS));
    if (!page.ok) return errorResponse(page.failure, traceId);
    return c.json(page.value, 200, { "cache-control": "no-store", "x-trace-id": traceId });
  });

  routes.get("/usage", tenantUsage);
  return routes;
}
