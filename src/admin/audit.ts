// Audit records of admin writes (channel "admin"): who did what to which resource, the acting token's id,
// role and tenant scope (or the tenant key, for self-service). Never secrets: only ids, the action, and
// the names of the fields that changed.
import type { Context } from "hono";
import type { AuditMessage } from "../../queues/messages";
import type { AdminEnv } from "./types";
import { newTraceId } from "../pipeline/trace";
import { emitEvent } from "../billing/emit";

export type AdminResource = "tenant" | "api_key" | "service" | "presets" | "template" | "credit" | "global_limits" | "dead_letters" | "admin_token" | "admin_login" | "response_cache";

export interface AdminAuditEvent {
  /** e.g. "tenant.create", "api_key.freeze". */
  action: string;
  resource: AdminResource;
  resourceId: string;
  tenantId?: string | null;
  keyId?: string | null;
  status: number;
  configVersion?: number | null;
  /** Non-secret context: changed field names, amounts, grace periods. */
  details?: Record<string, unknown>;
}

/** Who acted: an admin token (id, role, tenant scope), a tenant's key managing its own keys, or nobody known (a failed login). */
function actorOf(c: Context<AdminEnv>): Record<string, string | null> {
  const admin = c.get("admin");
  if (admin) return { actor: "admin", actor_token_id: admin.tokenId, actor_role: admin.role, actor_tenant_scope: admin.tenantId };
  const principal = c.get("principal");
  if (principal) return { actor: "tenant_key", actor_key_id: principal.keyId };
  return { actor: "unknown" };
}

export function adminAuditMessage(c: Context<AdminEnv>, event: AdminAuditEvent, now = Date.now()): AuditMessage {
  const startedAt = c.get("adminStartedAt") ?? now;
  return {
    v: 1,
    trace_id: c.get("traceId"),
    request_id: newTraceId(),
    tenant_id: event.tenantId ?? null,
    key_id: event.keyId ?? null,
    channel: "admin",
    route: `${c.req.method} ${c.req.routePath}`,
    model: null,
    upstream: null,
    status: event.status,
    error_code: null,
    error_source: null,
    upstream_status: null,
    latency_ms: Math.max(0, now - startedAt),
    step_timings: [],
    config_version: event.configVersion ?? null,
    flags: [],
    input_tokens: null,
    output_tokens: null,
    usage_estimated: null,
    cost_micros: null,
    meta: { ...actorOf(c), action: event.action, resource: event.resource, resource_id: event.resourceId, ...event.details },
    created_at: new Date(now).toISOString(),
  };
}

/** Sends the record off the response path, like every event: a failed send goes to the durable outbox. */
export function auditAdminWrite(c: Context<AdminEnv>, event: AdminAuditEvent): void {
  const message = adminAuditMessage(c, event);
  c.executionCtx.waitUntil(emitEvent({ env: c.env, traceId: message.trace_id }, "audit", message));
}
