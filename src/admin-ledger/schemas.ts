// Wire schemas of the audit, usage and export endpoints (for the OpenAPI document and the route typing).
import { z } from "@hono/zod-openapi";
import { AuditFilterShape } from "./audit-query";

/** A JSON number when it is a safe integer, otherwise its exact decimal string. */
const Int = z.union([z.number().int(), z.string().regex(/^-?\d+$/)]).openapi({ description: "Integer; a decimal string beyond 2^53 - 1." });

export const TenantAuditRecordSchema = z
  .object({
    object: z.literal("audit_record"),
    request_id: z.string().openapi({ description: "The gateway's id for this request (the `x-gateway-request-id` response header)." }),
    trace_id: z.string().openapi({ description: "The trace the request belonged to (`x-trace-id`); several requests may share one." }),
    created_at: z.string().openapi({ description: "When the gateway received the request (ISO 8601, UTC)." }),
    key_id: z.string().nullable(),
    channel: z.string().nullable(),
    route: z.string().nullable(),
    model: z.string().nullable(),
    status: z.number().int().openapi({ description: "HTTP status sent to the client." }),
    error_code: z.string().nullable().openapi({ description: "The error's `code` (docs/api/errors.md), null on success." }),
    error_source: z.enum(["client", "gateway", "upstream"]).nullable(),
    upstream_status: z.number().int().nullable().openapi({ description: "The upstream's own HTTP status when it caused the error." }),
    latency_ms: z.number().int().nullable(),
    input_tokens: z.number().int().nullable(),
    output_tokens: z.number().int().nullable(),
    usage_estimated: z.boolean().nullable(),
    cost_micros: z.number().int().nullable(),
    stream: z.boolean().nullable(),
    ending: z.string().nullable().openapi({ description: "complete | client_aborted | upstream_failed" }),
    flags: z.array(z.string()),
  })
  .openapi("TenantAuditRecord");

export const AdminAuditRecordSchema = TenantAuditRecordSchema.extend({
  tenant_id: z.string().nullable(),
  upstream: z.string().nullable().openapi({ description: "The preset id that served the request." }),
  config_version: z.number().int().nullable(),
  step_timings: z.array(z.unknown()),
  meta: z.record(z.string(), z.unknown()),
}).openapi("AdminAuditRecord");

export const auditListOf = <T extends z.ZodType>(item: T) => z.object({ object: z.literal("list"), data: z.array(item), next_cursor: z.string().nullable() });

const CacheHits = Int.openapi({ description: "Requests answered from the response cache (part of `requests`)." });
const CacheHitCost = Int.openapi({ description: "What those hits cost at the preset's cache price, micro-units (part of `cost_micros`)." });

export const UsageReportSchema = z
  .object({
    object: z.literal("usage"),
    from: z.string(),
    to: z.string(),
    data: z.array(
      z.object({
        date: z.string(),
        model: z.string().nullable(),
        key_id: z.string().nullable(),
        requests: Int,
        input_tokens: Int,
        output_tokens: Int,
        cost_micros: Int,
        cache_hits: CacheHits,
        cache_hit_cost_micros: CacheHitCost,
      }),
    ),
    total: z.object({ requests: Int, input_tokens: Int, output_tokens: Int, cost_micros: Int, cache_hits: CacheHits, cache_hit_cost_micros: CacheHitCost }),
  })
  .openapi("UsageReport");

export const ExportQuerySchema = z.strictObject({
  ...AuditFilterShape,
  from: AuditFilterShape.from.unwrap().openapi({ param: { name: "from", in: "query", required: true } }),
  to: AuditFilterShape.to.unwrap().openapi({ param: { name: "to", in: "query", required: true } }),
  format: z.enum(["ndjson", "csv"]).default("ndjson").openapi({ param: { name: "format", in: "query" } }),
});
