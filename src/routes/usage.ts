// GET /usage on the external channel: the calling tenant's spend and tokens by UTC day, model and key.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { withLedger } from "../admin-ledger/ledger-db";
import { usageReport, usageWindow, UsageQuerySchema } from "../admin-ledger/usage-query";
import { validationFailure } from "../admin/router";
import { errorResponse } from "../errors";

export async function tenantUsage(c: Context<AppEnv>): Promise<Response> {
  const traceId = c.get("traceId");
  const parsed = UsageQuerySchema.safeParse(c.req.query());
  if (!parsed.success) return errorResponse(validationFailure(parsed.error, "query"), traceId);
  const window = usageWindow(parsed.data);
  if (!window.ok) return errorResponse(window.failure, traceId);
  const tenantId = c.get("principal").tenantId;
  const report = await withLedger(c.env, c.executionCtx, traceId, (db) => usageReport(db, tenantId, window.value));
  if (!report.ok) return errorResponse(report.failure, traceId);
  return c.json(report.value, 200, { "cache-control": "no-store", "x-trace-id": traceId });
}
