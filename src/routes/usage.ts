// GET /usage on the external channel: the calling tenant's spend and tokens by UTC day, model and key.
import type { Context } from "hono";
import { withLedger } from "../admin-ledger/ledger-db";
import { usageReport, usageWindow, UsageQuerySchema } from "../admin-ledger/usage-query";
import { validationFailure } from "../admin/router";
import { errorResponse } from "../errors";
import type { TenantLedgerEnv } from "./audit";

export async function tenantUsage(c: Context<TenantLedgerEnv>): Promise<Response> {
  const traceId = c.get("traceId");
  const parsed = UsageQuerySchema.safeParse(c.req.query());
  if (!parsed.success) return errorResponse(validationFailure(parsed.error, "query"), traceId);
  const window = usageWindow(parsed.data);
  if ("kind" in window) return errorResponse(window, traceId);
  const tenantId = c.get("tenantId");
  const report = await withLedger(c.env, c.executionCtx, traceId, (db) => usageReport(db, tenantId, window));
  if ("kind" in report) return errorResponse(report, traceId);
  return c.json(report, 200, { "cache-control": "no-store", "x-trace-id": traceId });
}
