// Replaying dead letters: rows of the dead_letter table (billing and audit events that ran out of queue
// retries, or were refused as invalid) are sent back to the queue they came from, once the cause is
// fixed, and marked replayed. Repeating a replay is harmless: the ledger keeps one row per request id.
import { createRoute, z } from "@hono/zod-openapi";
import { sql, type Kysely } from "kysely";
import { auditAdminWrite } from "../admin/audit";
import { adminRouter } from "../admin/router";
import { adminAccess, errors, json, jsonBody } from "../admin/schemas";
import type { Database } from "../db/schema";
import type { Env } from "../env";
import { eventsOf, packText } from "../../queues/messages";
import { withLedger } from "./ledger-db";

/** Each dead-letter queue and the queue its events came from. */
const ORIGIN = { "gateway-billing-dlq": "BILLING_QUEUE", "gateway-audit-dlq": "AUDIT_QUEUE" } as const;
type DeadLetterQueue = keyof typeof ORIGIN;

const ReplayRequestSchema = z
  .object({
    queue: z.enum(["gateway-billing-dlq", "gateway-audit-dlq"]).optional().openapi({ description: "Only this dead-letter queue's rows; both when absent." }),
    limit: z.number().int().min(1).max(500).default(100).openapi({ description: "At most this many rows, oldest first." }),
  })
  .strict();

const ReplayResultSchema = z.object({
  replayed: z.number().int().openapi({ description: "Rows sent back to their queue and marked replayed." }),
  events: z.number().int().openapi({ description: "Events those rows carried (a row may hold a pack of many)." }),
  unreadable: z.number().int().openapi({ description: "Pending rows whose body holds no event (never replayed; inspect them in the table)." }),
  remaining: z.number().int().openapi({ description: "Rows still waiting for a replay after this call." }),
});

const replay = createRoute({
  method: "post",
  path: "/dead-letters/replay",
  operationId: "replayDeadLetters",
  tags: ["Audit"],
  summary: "Send pending dead letters back to their queues (after fixing what sent them there)",
  ...adminAccess("ledger"),
  request: { body: jsonBody(ReplayRequestSchema) },
  responses: { 200: json(ReplayResultSchema, "What was replayed and what is left"), ...errors(400, 401, 503) },
});

export type ReplayResult = z.infer<typeof ReplayResultSchema>;

// A row can be replayed when its body is one event or a non-empty pack (the dead-letter consumer
// stores both as JSON objects); anything else is counted as unreadable and left for an operator, and
// never stands in the way of the rows behind it.
const replayable = sql<boolean>`jsonb_typeof(body) = 'object' AND (NOT body ? 'events' OR (jsonb_typeof(body->'events') = 'array' AND jsonb_array_length(body->'events') > 0))`;

/** Replays up to `limit` pending rows, oldest first; a row is marked only once its events are on the queue. */
export async function replayDeadLetters(db: Kysely<Database>, env: Env, options: { queue?: DeadLetterQueue; limit: number }): Promise<ReplayResult> {
  const queues = options.queue ? [options.queue] : (Object.keys(ORIGIN) as DeadLetterQueue[]);
  const pending = db.selectFrom("dead_letter").where("replayed_at", "is", null).where("queue", "in", queues);
  const rows = await pending.select(["id", "queue", "body"]).where(replayable).orderBy("created_at").orderBy("id").limit(options.limit).execute();
  let replayed = 0;
  let events = 0;
  for (const row of rows) {
    const carried = eventsOf(row.body)!;
    // One pack per row (a row holds at most one queue message's worth), then the mark: a crash in
    // between replays the row again later, which the ledger absorbs.
    await env[ORIGIN[row.queue as DeadLetterQueue]].send(packText(carried.map((e) => JSON.stringify(e))), { contentType: "text" });
    await db.updateTable("dead_letter").set({ replayed_at: new Date() }).where("id", "=", row.id).execute();
    replayed++;
    events += carried.length;
  }
  const left = await pending
    .select([sql<string>`count(*) FILTER (WHERE ${replayable})`.as("replayable"), sql<string>`count(*) FILTER (WHERE NOT (${replayable}))`.as("unreadable")])
    .executeTakeFirstOrThrow();
  return { replayed, events, unreadable: Number(left.unreadable), remaining: Number(left.replayable) };
}

/** The route, relative to /admin/v1 and without authentication (for the admin API's own router). */
export function deadLetterRoutes() {
  const app = adminRouter();
  app.openapi(replay, async (c) => {
    const request = c.req.valid("json");
    const result = await withLedger(c.env, c.executionCtx, c.get("traceId"), (db) => replayDeadLetters(db, c.env, request));
    auditAdminWrite(c, { action: "dead_letters.replay", resource: "dead_letters", resourceId: request.queue ?? "all", status: 200, details: { ...result } });
    return c.json(result, 200, { "cache-control": "no-store" });
  });
  return app;
}
