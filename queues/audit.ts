// Consumer of the audit queue: writes one audit row per trace id (duplicates are no-ops).
import type { Env } from "../src/env";
import { insertAuditRecords, type AuditRecord } from "../src/db/ledger";
import { consumeLedgerBatch, type LedgerConsumer } from "./consumer";
import { AuditMessageSchema, type AuditMessage } from "./messages";

export function auditRecordOf(m: AuditMessage): AuditRecord {
  return {
    traceId: m.trace_id,
    requestId: m.request_id,
    tenantId: m.tenant_id,
    keyId: m.key_id,
    channel: m.channel,
    route: m.route,
    model: m.model,
    upstream: m.upstream,
    status: m.status,
    errorCode: m.error_code,
    errorSource: m.error_source,
    upstreamStatus: m.upstream_status,
    latencyMs: m.latency_ms,
    stepTimings: { steps: m.step_timings },
    configVersion: m.config_version,
    flags: m.flags,
    meta: { ...m.meta, input_tokens: m.input_tokens, output_tokens: m.output_tokens, usage_estimated: m.usage_estimated, cost_micros: m.cost_micros },
    batchId: m.batch_id ?? null,
    occurredAt: m.created_at,
  };
}

export const auditConsumer: LedgerConsumer<typeof AuditMessageSchema> = {
  name: "audit",
  schema: AuditMessageSchema,
  deadLetter: (env) => env.AUDIT_DLQ,
  write: async (db, messages) => {
    await insertAuditRecords(db, messages.map(auditRecordOf));
  },
};

export function consumeAudit(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  return consumeLedgerBatch(auditConsumer, batch, env, ctx);
}
