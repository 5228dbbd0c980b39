// The routes outside the admin API and the inference pipeline, in the OpenAPI document: liveness,
// readiness and metrics for operators, and a tenant's own health, audit records and usage on the
// external channel. They are plain Hono routes (src/routes/); their bodies come from the same zod
// schemas that validate their queries or describe their answers.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { AuditListQuerySchema } from "../admin-ledger/audit-query";
import { auditListOf, TenantAuditRecordSchema, UsageReportSchema } from "../admin-ledger/schemas";
import { UsageQuerySchema } from "../admin-ledger/usage-query";
import { LivenessSchema, ReadinessSchema, TenantHealthSchema } from "../api/operations-schemas";
import { ErrorSchema, json } from "./schemas";

type OpenAPIRegistry = OpenAPIHono["openAPIRegistry"];

const TENANT = { tags: ["Account (external)"], security: [{ ApiKey: [] }] };
const OPERATIONS = { tags: ["Operations"], security: [{ ServiceToken: [] }] };
const tenantErrors = {
  401: json(ErrorSchema, "Missing or invalid API key"),
  403: json(ErrorSchema, "ip_not_allowed, key_frozen, key_revoked, tenant_banned"),
};
const operatorErrors = {
  401: json(ErrorSchema, "Missing or invalid service token"),
  403: json(ErrorSchema, "The token lacks the operations scope"),
};

export function registerOperationalPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: "get",
    path: "/health",
    operationId: "getLiveness",
    tags: ["Operations"],
    summary: "Liveness: the Worker answers (no dependency is checked)",
    security: [],
    responses: { 200: json(LivenessSchema, "Alive") },
  });
  registry.registerPath({
    method: "get",
    path: "/internal/v1/health",
    operationId: "getReadiness",
    ...OPERATIONS,
    summary: "Readiness: KV, the Durable Objects, the queues, the database and Redis, each checked",
    responses: { 200: json(ReadinessSchema, "Ready"), ...operatorErrors, 503: json(ReadinessSchema, "Unready: a required check failed") },
  });
  registry.registerPath({
    method: "get",
    path: "/internal/v1/metrics",
    operationId: "getMetrics",
    ...OPERATIONS,
    summary: "Metrics of every isolate, aggregated, in Prometheus text format",
    responses: {
      200: { description: "Prometheus exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } },
      ...operatorErrors,
    },
  });
  registry.registerPath({
    method: "get",
    path: "/external/v1/health",
    operationId: "getAccountHealth",
    ...TENANT,
    summary: "The calling tenant's traffic, balance, quotas and models, as this gateway sees them now",
    responses: { 200: json(TenantHealthSchema, "The tenant's health"), ...tenantErrors },
  });
  registry.registerPath({
    method: "get",
    path: "/external/v1/audit",
    operationId: "listAccountAuditRecords",
    ...TENANT,
    summary: "The calling tenant's API calls, newest first (cursor pagination, filters)",
    request: { query: AuditListQuerySchema },
    responses: {
      200: json(auditListOf(TenantAuditRecordSchema), "A page of audit records"),
      400: json(ErrorSchema, "Invalid filter or cursor (`invalid_request` with `param`)"),
      ...tenantErrors,
      503: json(ErrorSchema, "The ledger database is unavailable"),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/external/v1/usage",
    operationId: "getAccountUsage",
    ...TENANT,
    summary: "The calling tenant's usage by UTC day, model and key, with exact totals",
    request: { query: UsageQuerySchema },
    responses: {
      200: json(UsageReportSchema, "Usage rows and totals"),
      400: json(ErrorSchema, "Invalid day or window (`invalid_request` with `param`)"),
      ...tenantErrors,
      503: json(ErrorSchema, "The ledger database is unavailable"),
    },
  });
}
