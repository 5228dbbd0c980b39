// Ledger writes and reads: idempotent billing rows with their usage roll-up, audit rows, balance of record.
import { sql, type Kysely } from "kysely";
import type { BillingKind, Database, ErrorSourceColumn } from "./schema";

/**
 * One billing event. Amounts are signed integer micro-units from the tenant's balance point of
 * view (debit <= 0, credit and refund > 0, adjustment != 0); `requestId` is the idempotency key
 * together with tenant and kind.
 */
export interface BillingEvent {
  tenantId: string;
  keyId?: string | null;
  requestId: string;
  kind: BillingKind;
  /** A bigint, or a number only when it is a safe integer: amounts never pass through floats. */
  amountMicros: bigint | number;
  currency?: string;
  model?: string | null;
  inputTokens?: number;
  outputTokens?: number;
  priceVersion?: number | null;
  usageEstimated?: boolean;
  meta?: Record<string, unknown>;
  /** The batch of a batch line (null for interactive requests). */
  batchId?: string | null;
  /** When the request happened; decides the usage day. Defaults to the database's now(). */
  occurredAt?: Date | string;
}

export interface AuditRecord {
  traceId: string;
  /** The gateway's id for the request: the idempotency key (a trace id may span many requests). */
  requestId: string;
  tenantId?: string | null;
  keyId?: string | null;
  channel?: string | null;
  route?: string | null;
  model?: string | null;
  upstream?: string | null;
  status: number;
  errorCode?: string | null;
  errorSource?: ErrorSourceColumn | null;
  upstreamStatus?: number | null;
  latencyMs?: number | null;
  stepTimings?: Record<string, unknown> | null;
  configVersion?: number | null;
  flags?: string[];
  meta?: Record<string, unknown>;
  occurredAt?: Date | string;
  /** The batch of a batch line (null for interactive requests). */
  batchId?: string | null;
}

/** `isNew[i]` is true when this call wrote input i; duplicates (earlier calls or earlier in the input) are false. */
export interface WriteResult {
  inserted: number;
  isNew: boolean[];
}

// Bind-parameter budget: Postgres allows 65,535 per statement.
const BILLING_CHUNK = 1_000;
const AUDIT_CHUNK = 500;

const SIGN_RULE: Record<BillingKind, (amount: bigint) => boolean> = {
  debit: (a) => a <= 0n,
  credit: (a) => a > 0n,
  refund: (a) => a > 0n,
  adjustment: (a) => a !== 0n,
};

const isCount = (n: unknown) => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);

/** Why the database would refuse this event, or undefined. Lets a consumer dead-letter one bad message instead of a batch. */
export function billingEventProblem(e: BillingEvent): string | undefined {
  if (!e.tenantId || e.tenantId.length > 255) return "tenantId must be 1-255 characters";
  if (!e.requestId || e.requestId.length > 255) return "requestId must be 1-255 characters";
  if (!Object.hasOwn(SIGN_RULE, e.kind)) return `unknown kind ${String(e.kind)}`;
  if (typeof e.amountMicros !== "bigint" && !Number.isSafeInteger(e.amountMicros)) {
    return "amountMicros must be a bigint or a safe integer";
  }
  if (!SIGN_RULE[e.kind](BigInt(e.amountMicros))) return `amountMicros ${e.amountMicros} has the wrong sign for a ${e.kind}`;
  if (e.currency !== undefined && !/^[A-Z]{3}$/.test(e.currency)) return "currency must be three upper-case letters";
  if (!isCount(e.inputTokens) || !isCount(e.outputTokens)) return "token counts must be non-negative integers";
  return undefined;
}

const billingKey = (tenantId: string, kind: string, requestId: string) => `${tenantId}\u0000${kind}\u0000${requestId}`;

function byKey<T>(items: T[], key: (item: T) => string): T[] {
  // One global order for every writer, so concurrent batches take row locks in the same order (no deadlocks).
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function markNew<T>(inputs: T[], keyOf: (item: T) => string, written: Set<string>): WriteResult {
  const isNew = inputs.map((item) => {
    const key = keyOf(item);
    if (!written.has(key)) return false;
    written.delete(key); // a later copy of the same event in this input is a duplicate
    return true;
  });
  return { inserted: isNew.filter(Boolean).length, isNew };
}

const at = (value: Date | string | undefined) => (value instanceof Date ? value.toISOString() : value);

/**
 * Inserts billing rows, skipping any already recorded (ON CONFLICT DO NOTHING), and adds exactly
 * the rows it inserted to usage_daily in the same statement, so a redelivered event is never
 * counted twice. Throws on an invalid event (see billingEventProblem) and on database errors.
 */
export async function recordBillingEvents(db: Kysely<Database>, events: BillingEvent[]): Promise<WriteResult> {
  for (const e of events) {
    const problem = billingEventProblem(e);
    if (problem) throw new TypeError(`billing event ${e.tenantId}/${e.kind}/${e.requestId}: ${problem}`);
  }
  const keyOf = (e: BillingEvent) => billingKey(e.tenantId, e.kind, e.requestId);
  const written = new Set<string>();
  for (const chunk of chunks(byKey(events, keyOf), BILLING_CHUNK)) {
    const rows = chunk.map((e) => ({
      tenant_id: e.tenantId,
      key_id: e.keyId ?? null,
      request_id: e.requestId,
      kind: e.kind,
      amount_micros: BigInt(e.amountMicros).toString(),
      currency: e.currency ?? "USD",
      model: e.model ?? null,
      input_tokens: e.inputTokens ?? 0,
      output_tokens: e.outputTokens ?? 0,
      price_version: e.priceVersion ?? null,
      usage_estimated: e.usageEstimated ?? false,
      meta: JSON.stringify(e.meta ?? {}),
      batch_id: e.batchId ?? null,
      created_at: at(e.occurredAt),
    }));
    const usageKey = sql<string>`coalesce(key_id, '')`;
    const usageModel = sql<string>`coalesce(model, '')`;
    const usageDay = sql<string>`(created_at at time zone 'UTC')::date`;
    const result = await db
      .with("inserted", (q) =>
        q
          .insertInto("billing_transaction")
          .values(rows)
          .onConflict((oc) => oc.columns(["tenant_id", "kind", "request_id"]).doNothing())
          .returning(["tenant_id", "key_id", "request_id", "kind", "model", "amount_micros", "input_tokens", "output_tokens", "created_at", "meta"]),
      )
      .with("rolled", (q) =>
        q
          .insertInto("usage_daily")
          .columns(["tenant_id", "key_id", "model", "day", "requests", "input_tokens", "output_tokens", "cost_micros", "cache_hits", "cache_hit_cost_micros"])
          .expression((eb) =>
            eb
              .selectFrom("inserted")
              .where("kind", "in", ["debit", "refund"])
              // A correcting row (meta.corrects) moves money and tokens but is not another request.
              .select([
                "tenant_id",
                usageKey.as("key_id"),
                usageModel.as("model"),
                usageDay.as("day"),
                sql<string>`count(*) filter (where kind = 'debit' and meta->>'corrects' is null)`.as("requests"),
                sql<string>`coalesce(sum(input_tokens) filter (where kind = 'debit'), 0)`.as("input_tokens"),
                sql<string>`coalesce(sum(output_tokens) filter (where kind = 'debit'), 0)`.as("output_tokens"),
                sql<string>`-sum(amount_micros)`.as("cost_micros"),
                // Answered from the response cache: the row's flags say so (src/steps/record-billing.ts).
                sql<string>`count(*) filter (where kind = 'debit' and meta->>'corrects' is null and meta->'flags' @> '["cache_hit"]'::jsonb)`.as("cache_hits"),
                sql<string>`-coalesce(sum(amount_micros) filter (where meta->'flags' @> '["cache_hit"]'::jsonb), 0)`.as("cache_hit_cost_micros"),
              ])
              .groupBy(["tenant_id", usageKey, usageModel, usageDay])
              .orderBy("tenant_id")
              .orderBy(usageKey)
              .orderBy(usageModel)
              .orderBy(usageDay),
          )
          .onConflict((oc) =>
            oc.columns(["tenant_id", "key_id", "model", "day"]).doUpdateSet({
              requests: sql`usage_daily.requests + excluded.requests`,
              input_tokens: sql`usage_daily.input_tokens + excluded.input_tokens`,
              output_tokens: sql`usage_daily.output_tokens + excluded.output_tokens`,
              cost_micros: sql`usage_daily.cost_micros + excluded.cost_micros`,
              cache_hits: sql`usage_daily.cache_hits + excluded.cache_hits`,
              cache_hit_cost_micros: sql`usage_daily.cache_hit_cost_micros + excluded.cache_hit_cost_micros`,
            }),
          ),
      )
      .selectFrom("inserted")
      .select(["tenant_id", "kind", "request_id"])
      .execute();
    for (const r of result) written.add(billingKey(r.tenant_id, r.kind, r.request_id));
  }
  return markNew(events, keyOf, written);
}

/** Inserts audit rows; a request id already recorded is skipped, so redelivery is harmless. */
export async function insertAuditRecords(db: Kysely<Database>, records: AuditRecord[]): Promise<WriteResult> {
  const written = new Set<string>();
  for (const chunk of chunks(byKey(records, (r) => r.requestId), AUDIT_CHUNK)) {
    const rows = chunk.map((r) => ({
      trace_id: r.traceId,
      request_id: r.requestId,
      tenant_id: r.tenantId ?? null,
      key_id: r.keyId ?? null,
      channel: r.channel ?? null,
      route: r.route ?? null,
      model: r.model ?? null,
      upstream: r.upstream ?? null,
      status: r.status,
      error_code: r.errorCode ?? null,
      error_source: r.errorSource ?? null,
      upstream_status: r.upstreamStatus ?? null,
      latency_ms: r.latencyMs ?? null,
      step_timings: r.stepTimings == null ? null : JSON.stringify(r.stepTimings),
      config_version: r.configVersion ?? null,
      flags: r.flags ?? [],
      meta: JSON.stringify(r.meta ?? {}),
      batch_id: r.batchId ?? null,
      created_at: at(r.occurredAt),
    }));
    const result = await db
      .insertInto("audit_log")
      .values(rows)
      .onConflict((oc) => oc.column("request_id").doNothing())
      .returning("request_id")
      .execute();
    for (const r of result) written.add(r.request_id);
  }
  return markNew(records, (r) => r.requestId, written);
}

/**
 * The tenant's balance of record: SUM(amount_micros) in one currency. Postgres sums bigint into
 * numeric and the driver returns it as a decimal string, parsed with BigInt: exact at any size.
 */
export async function balanceOfRecord(db: Kysely<Database>, tenantId: string, currency = "USD"): Promise<bigint> {
  const row = await db
    .selectFrom("billing_transaction")
    .select(sql<string>`coalesce(sum(amount_micros), 0)::text`.as("balance"))
    .where("tenant_id", "=", tenantId)
    .where("currency", "=", currency)
    .executeTakeFirstOrThrow();
  return BigInt(row.balance);
}
