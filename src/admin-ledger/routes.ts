// Admin routes over the ledger: any tenant's audit records and usage, and the streaming compliance
// export (NDJSON or CSV). Unknown tenants are 404; the export itself is audited.
import { createRoute, z } from "@hono/zod-openapi";
import { auditAdminWrite } from "../admin/audit";
import { loadTenant } from "../admin/records";
import { adminRouter, handleAdminError, orThrow } from "../admin/router";
import { adminAccess, errors, idParam, json } from "../admin/schemas";
import { GatewayError } from "../errors";
import { adminAuditView, auditListPage, filterProblem, AuditListQuerySchema } from "./audit-query";
import { auditExportStream, CONTENT_TYPES } from "./export";
import { ledgerUnavailable, openLedger, withLedger } from "./ledger-db";
import { AdminAuditRecordSchema, auditListOf, ExportQuerySchema, UsageReportSchema } from "./schemas";
import { usageReport, usageWindow, UsageQuerySchema } from "./usage-query";

const TenantPath = z.object({ id: idParam("id") });
const NO_STORE = { "cache-control": "no-store" };

const listAudit = createRoute({
  method: "get",
  path: "/tenants/{id}/audit",
  operationId: "listTenantAuditRecords",
  tags: ["Audit"],
  summary: "A tenant's audit records, newest first (cursor pagination, filters)",
  ...adminAccess("ledger", { tenantParam: "id" }),
  request: { params: TenantPath, query: AuditListQuerySchema },
  responses: { 200: json(auditListOf(AdminAuditRecordSchema), "A page of audit records"), ...errors(400, 401, 404, 503) },
});

const getUsage = createRoute({
  method: "get",
  path: "/tenants/{id}/usage",
  operationId: "getTenantUsage",
  tags: ["Audit"],
  summary: "A tenant's usage by UTC day, model and key, with exact totals",
  ...adminAccess("ledger", { tenantParam: "id" }),
  request: { params: TenantPath, query: UsageQuerySchema },
  responses: { 200: json(UsageReportSchema, "Usage rows and totals"), ...errors(400, 401, 404, 503) },
});

const exportAudit = createRoute({
  method: "get",
  path: "/tenants/{id}/audit/export",
  operationId: "exportTenantAuditRecords",
  tags: ["Audit"],
  summary: "Compliance export: every audit record of a tenant in [from, to), oldest first, streamed as NDJSON or CSV",
  ...adminAccess("ledger", { tenantParam: "id" }),
  request: { params: TenantPath, query: ExportQuerySchema },
  responses: {
    200: {
      description: "The records, streamed; a failure mid-way aborts the transfer (never a clean short file)",
      content: { "application/x-ndjson": { schema: z.string() }, "text/csv": { schema: z.string() } },
    },
    ...errors(400, 401, 404, 503),
  },
});

/** The routes, relative to /admin/v1 and without authentication (for the admin API's own router). */
export function adminLedgerRoutes() {
  const app = adminRouter();

  app.openapi(listAudit, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    orThrow(await loadTenant(c.env, id));
    const page = await withLedger(c.env, c.executionCtx, c.get("traceId"), (db) => auditListPage(db, id, query, adminAuditView));
    return c.json(orThrow(page), 200, NO_STORE);
  });

  app.openapi(getUsage, async (c) => {
    const { id } = c.req.valid("param");
    const window = orThrow(usageWindow(c.req.valid("query")));
    orThrow(await loadTenant(c.env, id));
    const report = await withLedger(c.env, c.executionCtx, c.get("traceId"), (db) => usageReport(db, id, window));
    return c.json(orThrow(report), 200, NO_STORE);
  });

  app.openapi(exportAudit, async (c) => {
    const { id } = c.req.valid("param");
    const { format, ...filters } = c.req.valid("query");
    const problem = filterProblem(filters);
    if (problem) throw new GatewayError(problem);
    orThrow(await loadTenant(c.env, id));
    const traceId = c.get("traceId");
    const handle = openLedger(c.env);
    const startedAt = Date.now();
    let body: ReadableStream<Uint8Array>;
    try {
      body = await auditExportStream({
        db: handle.db,
        tenantId: id,
        filters,
        format,
        onEnd: ({ rows, ending, error }) => {
          const level = ending === "complete" ? "info" : "warn";
          console.log(JSON.stringify({ level, msg: "audit export ended", trace_id: traceId, tenant_id: id, format, rows, ending, ms: Date.now() - startedAt, error: error === undefined ? undefined : String(error) }));
          c.executionCtx.waitUntil(handle.dispose());
        },
      });
    } catch (error) {
      c.executionCtx.waitUntil(handle.dispose());
      console.error(JSON.stringify({ level: "error", msg: "audit export failed to start", trace_id: traceId, tenant_id: id, error: String(error) }));
      throw new GatewayError(ledgerUnavailable());
    }
    auditAdminWrite(c, { action: "audit.export", resource: "tenant", resourceId: id, tenantId: id, status: 200, details: { format, from: filters.from, to: filters.to } });
    const stamp = (s: string) => s.replace(/[^0-9A-Za-z]/g, "");
    return new Response(body, {
      status: 200,
      headers: {
        ...NO_STORE,
        "content-type": CONTENT_TYPES[format],
        "content-disposition": `attachment; filename="audit-${id}-${stamp(filters.from)}-${stamp(filters.to)}.${format}"`,
        "x-trace-id": traceId,
      },
    });
  });

  return app;
}

/** Self-contained: mount with `app.route("/", adminLedgerApi())`; checks the admin token itself. */
