// Kysely types for the ledger tables created by migrations/ (bigint columns travel as decimal strings).
import type { ColumnType, Generated } from "kysely";

/**
 * Postgres bigint/numeric: the driver returns decimal strings (exact beyond 2^53); we write
 * strings or bigints, never floats. Convert with BigInt(), not Number().
 */
export type Int8 = ColumnType<string, string | bigint, string | bigint>;
/** A bigint the database fills in (bigserial ids). */
export type Int8Id = ColumnType<string, never, never>;
/** timestamptz: Date when read; an ISO string or a Date when written; defaults to now(). */
export type Timestamptz = ColumnType<Date, Date | string | undefined, never>;
/** jsonb: written as a JSON text (the driver would turn a JS array into a Postgres array). */
export type Jsonb<T> = ColumnType<T, string | undefined, string>;
export type NullableJsonb<T> = ColumnType<T | null, string | null | undefined, string | null>;

export type BillingKind = "debit" | "credit" | "refund" | "adjustment";
export type ErrorSourceColumn = "client" | "gateway" | "upstream";

/** Append-only: no Updateable use is valid (a trigger refuses UPDATE and DELETE). */
export interface BillingTransactionTable {
  id: Int8Id;
  tenant_id: string;
  key_id: string | null;
  request_id: string;
  kind: BillingKind;
  /** Signed micro-units: debits <= 0, credits and refunds > 0, adjustments != 0. */
  amount_micros: Int8;
  currency: ColumnType<string, string | undefined, never>;
  model: string | null;
  input_tokens: ColumnType<number, number | undefined, never>;
  output_tokens: ColumnType<number, number | undefined, never>;
  price_version: number | null;
  usage_estimated: ColumnType<boolean, boolean | undefined, never>;
  meta: Jsonb<Record<string, unknown>>;
  /** The batch a batch line's row belongs to; null for interactive requests. */
  batch_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: Timestamptz;
}

/** Roll-up of debit and refund rows per UTC day; '' means "no key" / "no model". */
export interface UsageDailyTable {
  tenant_id: string;
  key_id: string;
  model: string;
  day: ColumnType<Date, string, never>;
  requests: Int8;
  input_tokens: Int8;
  output_tokens: Int8;
  cost_micros: Int8;
  /** Requests answered from the response cache (debits flagged cache_hit), and their cost at the cache price. */
  cache_hits: Int8;
  cache_hit_cost_micros: Int8;
}

export interface AuditLogTable {
  id: Int8Id;
  trace_id: string;
  request_id: string;
  tenant_id: string | null;
  key_id: string | null;
  channel: string | null;
  route: string | null;
  model: string | null;
  upstream: string | null;
  status: number;
  error_code: string | null;
  error_source: ErrorSourceColumn | null;
  upstream_status: number | null;
  latency_ms: number | null;
  step_timings: NullableJsonb<Record<string, unknown>>;
  config_version: number | null;
  flags: ColumnType<string[], string[] | undefined, never>;
  meta: Jsonb<Record<string, unknown>>;
  batch_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: Timestamptz;
}

export interface SchemaMigrationsTable {
  name: string;
  checksum: string;
  applied_at: Timestamptz;
}

export interface DeadLetterTable {
  id: Int8Id;
  queue: string;
  message_id: string;
  attempts: number;
  body: Jsonb<unknown>;
  reason: string | null;
  replayed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: Timestamptz;
}

export interface Database {
  dead_letter: DeadLetterTable;
  billing_transaction: BillingTransactionTable;
  usage_daily: UsageDailyTable;
  audit_log: AuditLogTable;
  schema_migrations: SchemaMigrationsTable;
}
