// Usage report from the usage_daily roll-up (spend and tokens by UTC day, model and key), shared by
// the tenant and admin APIs. Sums are BigInt: never floats between the database and the wire.
import { z } from "@hono/zod-openapi";
import { sql, type Kysely } from "kysely";
import type { Database } from "../db/schema";
import { err, fail, ok, type GatewayFailure, type Result } from "../errors";
import { jsonInt } from "./ledger-db";

const DAY_MS = 86_400_000;
/** Longest window one call may ask for, in days (both ends included). */
export const MAX_USAGE_DAYS = 366;
/** A report past this many rows is refused: ask for a shorter window (or use the export). */
export const MAX_USAGE_ROWS = 10_000;

const Day = (name: string, description: string) =>
  z.iso.date().optional().openapi({ param: { name, in: "query" }, description, example: "2026-01-31" });

export const UsageQuerySchema = z.strictObject({
  from: Day("from", "First UTC day included (default: 29 days before `to`)."),
  to: Day("to", "Last UTC day included (default: today, UTC)."),
});
export type UsageQuery = z.infer<typeof UsageQuerySchema>;

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The inclusive [from, to] window with defaults applied, or why it is refused. */
export function usageWindow(query: UsageQuery, now = Date.now()): Result<{ from: string; to: string }> {
  const to = query.to ?? dayText(now);
  const toMs = Date.parse(to);
  if (!Number.isFinite(toMs)) return err(fail("invalid_request", "`to` must be a calendar date.", { param: "to" }));
  const from = query.from ?? dayText(toMs - 29 * DAY_MS);
  const days = (toMs - Date.parse(from)) / DAY_MS + 1;
  if (!Number.isFinite(days)) return err(fail("invalid_request", "`from` must be a calendar date.", { param: "from" }));
  if (days < 1) return err(fail("invalid_request", "`from` must not be after `to`.", { param: "from" }));
  if (days > MAX_USAGE_DAYS) return err(fail("invalid_request", `The window is ${days} days; ask for at most ${MAX_USAGE_DAYS}.`, { param: "from" }));
  return ok({ from, to });
}

type Int = number | string;

export interface UsageLine {
  date: string;
  model: string | null;
  key_id: string | null;
  requests: Int;
  input_tokens: Int;
  output_tokens: Int;
  cost_micros: Int;
  cache_hits: Int;
  cache_hit_cost_micros: Int;
}

type Totals = Pick<UsageLine, "requests" | "input_tokens" | "output_tokens" | "cost_micros" | "cache_hits" | "cache_hit_cost_micros">;

export interface UsageReport {
  object: "usage";
  from: string;
  to: string;
  data: UsageLine[];
  total: Totals;
}

const SUMMED = ["requests", "input_tokens", "output_tokens", "cost_micros", "cache_hits", "cache_hit_cost_micros"] as const;

/** Rows ordered by date, model, key; `total` is the exact sum of the rows. */
export async function usageReport(db: Kysely<Database>, tenantId: string, window: { from: string; to: string }): Promise<Result<UsageReport>> {
  const rows = await db
    .selectFrom("usage_daily")
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as("date"), "model", "key_id", ...SUMMED])
    .where("tenant_id", "=", tenantId)
    .where(sql<boolean>`day between ${window.from}::date and ${window.to}::date`)
    .orderBy("day")
    .orderBy("model")
    .orderBy("key_id")
    .limit(MAX_USAGE_ROWS + 1)
    .execute();
  if (rows.length > MAX_USAGE_ROWS) {
    return err(fail("invalid_request", `More than ${MAX_USAGE_ROWS} usage rows in this window; ask for fewer days.`, { param: "from" }));
  }
  const sums = Object.fromEntries(SUMMED.map((f) => [f, 0n])) as Record<(typeof SUMMED)[number], bigint>;
  const data = rows.map((r) => {
    const line = {
      date: r.date,
      // '' is the roll-up's "none" (primary-key columns cannot be NULL).
      model: r.model === "" ? null : r.model,
      key_id: r.key_id === "" ? null : r.key_id,
    } as UsageLine;
    for (const f of SUMMED) {
      sums[f] += BigInt(r[f]);
      line[f] = jsonInt(r[f]);
    }
    return line;
  });
  const total = Object.fromEntries(SUMMED.map((f) => [f, jsonInt(sums[f])])) as Totals;
  return ok({ object: "usage", from: window.from, to: window.to, data, total });
}
