// Wire schemas of the health routes (liveness, readiness, a tenant's own health), for the OpenAPI
// document. The handlers build these bodies as TypeScript types; the checks at the end keep each schema
// and its type the same, so the document cannot drift from what the routes send.
import { z } from "@hono/zod-openapi";
import type { Readiness } from "../metrics/health-checks";
import type { TenantHealth } from "../metrics/tenant-health";

export const LivenessSchema = z.object({ status: z.literal("ok") }).openapi("Liveness");

export const ReadinessSchema = z
  .object({
    status: z.enum(["ready", "unready"]),
    checks: z.array(
      z.object({
        name: z.enum(["kv", "durable_objects", "queues", "database", "redis"]),
        status: z.enum(["ok", "fail", "skipped"]),
        required: z.boolean().openapi({ description: "A failing required check makes the gateway unready (503)." }),
        latency_ms: z.number().int().nullable(),
        detail: z.string().optional().openapi({ description: "Why a check failed or was skipped (never a credential)." }),
      }),
    ),
  })
  .openapi("Readiness");

const Percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

export const TenantHealthSchema = z
  .object({
    object: z.literal("tenant.health"),
    tenant_id: z.string(),
    key_id: z.string(),
    generated_at: z.string().openapi({ description: "ISO 8601, UTC." }),
    max_delay_seconds: z.number().openapi({ description: "Another isolate's requests reach these numbers within this many seconds." }),
    traffic: z
      .array(
        z.object({
          window_minutes: z.number().int(),
          requests: z.number().int(),
          succeeded: z.number().int(),
          success_rate: z.number().nullable(),
          rejections: z.number().int(),
          client_errors: z.number().int(),
          gateway_errors: z.number().int(),
          upstream_errors: z.number().int(),
          latency_ms: Percentiles,
          cost_micros: z.number().int(),
        }),
      )
      .nullable(),
    account: z
      .object({
        status: z.string(),
        balance_micros: z.number().int(),
        held_micros: z.number().int(),
        available_micros: z.number().int(),
        quotas: z.array(
          z.object({
            id: z.string(),
            scope: z.enum(["tenant", "key"]),
            type: z.string(),
            period: z.string(),
            used: z.number(),
            limit: z.number(),
            remaining: z.number(),
          }),
        ),
      })
      .nullable(),
    models: z.array(z.object({ model: z.string(), capability: z.string(), status: z.enum(["available", "degraded", "unavailable"]), used_recently: z.boolean() })).nullable(),
    unavailable: z.array(z.string()).openapi({ description: "Sources that could not be read this time (their section is null)." }),
  })
  .openapi("TenantHealth");

/** True when A and B are the same type (each assignable to the other). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const readinessMatches: Same<z.output<typeof ReadinessSchema>, Readiness> = true;
const tenantHealthMatches: Same<z.output<typeof TenantHealthSchema>, TenantHealth> = true;
void readinessMatches;
void tenantHealthMatches;
