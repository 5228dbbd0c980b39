// Reads of audit_log shared by the tenant API, the admin API and the compliance export: filters,
// opaque keyset cursors over (created_at, id), and the wire views of a row.
import { z } from "@hono/zod-openapi";
import { sql, type Kysely, type Selectable } from "kysely";
import type { AuditLogTable, Database } from "../db/schema";
import { err, fail, ok, type GatewayFailure, type Result } from "../errors";

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** `2026-01-31`, `2026-01-31T08:00:00Z`, `2026-01-31T08:00:00.123+02:00`; a zone is required with a time. */
export function parseInstant(text: string): Date | null {
  if (!ISO_INSTANT.test(text)) return null;
  // Fractions beyond milliseconds are cut: Date has no finer resolution, and parsers disagree on them.
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? new Date(ms) : null;
}

const Instant = (name: string, description: string) =>
  z
    .string()
    .max(40)
    .refine((s) => parseInstant(s) !== null, "must be an ISO 8601 date or time with a zone, e.g. 2026-01-31T00:00:00Z")
    .optional()
    .openapi({ param: { name, in: "query" }, description, example: "2026-01-31T00:00:00Z" });

const Text = (name: string) => z.string().min(1).max(255).optional().openapi({ param: { name, in: "query" } });

export const AuditFilterShape = {
  from: Instant("from", "Records at or after this time."),
  to: Instant("to", "Records before this time (exclusive)."),
  key_id: Text("key_id"),
  model: Text("model"),
  trace_id: Text("trace_id"),
  request_id: Text("request_id"),
  error_code: Text("error_code"),
  status: z
    .string()
    .regex(/^[1-5](?:\d\d|xx)$/, "must be an HTTP status (e.g. 429) or a class (e.g. 5xx)")
    .optional()
    .openapi({ param: { name: "status", in: "query" }, example: "429" }),
};

export const AuditListQuerySchema = z.strictObject({
  ...AuditFilterShape,
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ param: { name: "limit", in: "query" }, description: "1-500, default 50." }),
  cursor: z.string().min(1).max(200).optional().openapi({ param: { name: "cursor", in: "query" }, description: "`next_cursor` of the previous page (opaque)." }),
});
export type AuditListQuery = z.infer<typeof AuditListQuerySchema>;
export type AuditFilters = Pick<AuditListQuery, keyof typeof AuditFilterShape>;

/** A position in the (created_at, id) order: created_at at full microsecond precision, as text. */
export interface AuditCursor {
  at: string;
  id: string;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^[1-9]\d{0,18}$/;

export function encodeCursor(cursor: AuditCursor): string {
  return btoa(`a1|${cursor.at}|${cursor.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(text: string): AuditCursor | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let plain: string;
  try {
    plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  const [version, at, id, ...rest] = plain.split("|");
  if (version !== "a1" || rest.length > 0 || !at || !id || !CURSOR_AT.test(at) || !CURSOR_ID.test(id)) return null;
  return Number.isFinite(Date.parse(at.slice(0, 23) + "Z")) ? { at, id } : null;
}

export const badCursor = (): GatewayFailure => fail("invalid_request", "The cursor is not valid; start again without it.", { param: "cursor" });

/** The filters as a failure when they contradict each other (the schema checked each one). */
export function filterProblem(filters: AuditFilters): GatewayFailure | undefined {
  if (filters.from && filters.to && parseInstant(filters.from)! >= parseInstant(filters.to)!) {
    return fail("invalid_request", "`from` must be before `to`.", { param: "from" });
  }
  return undefined;
}

/** An audit_log row as selected, plus the exact cursor timestamp (text, microseconds kept). */
export type AuditRow = Selectable<AuditLogTable> & { cursor_at: string };

export interface AuditSelection {
  tenantId: string;
  filters: AuditFilters;
  /** Only these channels (the tenant API shows its own API calls, not operator records). */
  channels?: readonly string[];
  order: "desc" | "asc";
  /** Rows strictly after this position in `order`. */
  after?: AuditCursor;
  limit: number;
}

/** One keyset page; the (tenant_id, created_at, id) index serves every filter combination in order. */
export async function selectAudit(db: Kysely<Database>, s: AuditSelection): Promise<AuditRow[]> {
  const f = s.filters;
  let q = db
    .selectFrom("audit_log")
    .selectAll()
    .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("cursor_at"))
    .where("tenant_id", "=", s.tenantId);
  if (s.channels) q = q.where("channel", "in", [...s.channels]);
  if (f.from) q = q.where("created_at", ">=", parseInstant(f.from)!);
  if (f.to) q = q.where("created_at", "<", parseInstant(f.to)!);
  if (f.key_id) q = q.where("key_id", "=", f.key_id);
  if (f.model) q = q.where("model", "=", f.model);
  if (f.error_code) q = q.where("error_code", "=", f.error_code);
  if (f.trace_id) q = q.where("trace_id", "=", f.trace_id);
  if (f.request_id) q = q.where("request_id", "=", f.request_id);
  if (f.status?.endsWith("xx")) {
    const floor = Number(f.status[0]) * 100;
    q = q.where("status", ">=", floor).where("status", "<=", floor + 99);
  } else if (f.status) {
    q = q.where("status", "=", Number(f.status));
  }
  if (s.after) {
    const position = sql`(${sql.val(s.after.at)}::timestamptz, ${sql.val(s.after.id)}::bigint)`;
    q = q.where(s.order === "desc" ? sql<boolean>`(created_at, id) < ${position}` : sql<boolean>`(created_at, id) > ${position}`);
  }
  const rows = await q.orderBy("created_at", s.order).orderBy("id", s.order).limit(s.limit).execute();
  return rows as AuditRow[];
}

export const cursorOf = (row: AuditRow): AuditCursor => ({ at: row.cursor_at, id: row.id });

const int = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) ? v : null);

/** What a tenant sees of its own request: no upstream target, configuration or internal timings. */
export function tenantAuditView(row: AuditRow) {
  const meta = row.meta ?? {};
  return {
    object: "audit_record" as const,
    request_id: row.request_id,
    trace_id: row.trace_id,
    created_at: row.created_at.toISOString(),
    key_id: row.key_id,
    channel: row.channel,
    route: row.route,
    model: row.model,
    status: row.status,
    error_code: row.error_code,
    error_source: row.error_source,
    upstream_status: row.upstream_status,
    latency_ms: row.latency_ms,
    input_tokens: int(meta.input_tokens),
    output_tokens: int(meta.output_tokens),
    usage_estimated: typeof meta.usage_estimated === "boolean" ? meta.usage_estimated : null,
    cost_micros: int(meta.cost_micros),
    stream: typeof meta.stream === "boolean" ? meta.stream : null,
    ending: typeof meta.ending === "string" ? meta.ending : null,
    flags: row.flags,
  };
}

/** The operator's view: everything in the row. */
export function adminAuditView(row: AuditRow) {
  const timings = row.step_timings;
  return {
    ...tenantAuditView(row),
    tenant_id: row.tenant_id,
    upstream: row.upstream,
    config_version: row.config_version,
    step_timings: timings && Array.isArray(timings.steps) ? (timings.steps as unknown[]) : timings ? [timings] : [],
    meta: row.meta ?? {},
  };
}
export type AdminAuditView = ReturnType<typeof adminAuditView>;

/** A page for the list endpoints: `limit` rows newest first, and the cursor of the next page if there is one. */
export async function auditListPage<V>(
  db: Kysely<Database>,
  tenantId: string,
  query: AuditListQuery,
  view: (row: AuditRow) => V,
  channels?: readonly string[],
): Promise<Result<{ object: "list"; data: V[]; next_cursor: string | null }>> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (after === null) return err(badCursor());
  const problem = filterProblem(query);
  if (problem) return err(problem);
  const rows = await selectAudit(db, { tenantId, filters: query, channels, order: "desc", after, limit: query.limit + 1 });
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return ok({ object: "list", data: page.map(view), next_cursor: rows.length > query.limit && last ? encodeCursor(cursorOf(last)) : null });
}
