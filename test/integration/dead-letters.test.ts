// The dead-letter consumer's policy against the real test database and metrics object: while Postgres
// is down a dead letter comes back on a growing schedule that spans more than a day, and the scrape
// shows it unstored with its age; its last delivery requeues it with its history (never dropped), the
// copy is stored once under the first message id; when even the requeue fails its events are logged
// (its listed fields, nothing else) and counted lost; stored rows show their age until replayed.
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import type { Env } from "../../src/env";
import { parseExposition, sumSamples, type ParsedFamily } from "../../src/metrics/parse-exposition";
import { consumeDeadLetters } from "../../queues/dead-letter";
import { DEAD_LETTER_DEFAULTS, LEDGER_RETRY_DEFAULTS, retrySchedule } from "../../queues/retry-policy";
import { BillingMessageSchema, packText, type BillingMessage } from "../../queues/messages";
import { seedService } from "../fixtures/seed";

const handle = createDb(env);
const db = handle.db;
afterAll(() => handle.dispose());
afterEach(() => vi.restoreAllMocks());

const DOWN = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" } as Env;
const HOUR_MS = 3_600_000;
let service: { token: string };
beforeAll(async () => {
  service = await seedService({ operations: true });
});

function billingEvent(requestId: string, amount = 5): BillingMessage {
  return {
    v: 1, request_id: requestId, tenant_id: "ten_dead_letters", key_id: "key_dl", channel: "external", kind: "debit",
    amount_micros: -amount, currency: "USD", model: "mock-openai-chat", upstream: "u", input_tokens: 3, output_tokens: 5,
    usage_estimated: false, price_version: 1, created_at: new Date().toISOString(),
  };
}

/**
 * One delivery to the consumer; the result adds each retried message's delay (getQueueResult does not
 * report delays, so the real messages are watched on their way through).
 */
interface Delivery {
  ackAll: boolean;
  explicitAcks: string[];
  retryMessages: { msgId: string; delaySeconds: number | undefined }[];
}

async function deliver(queue: string, message: { id: string; timestamp: Date; attempts: number; body: unknown }, targetEnv: Env): Promise<Delivery> {
  const batch = createMessageBatch(queue, [message]);
  const delays = new Map<string, number | undefined>();
  const watched = batch.messages.map(
    (m) =>
      new Proxy(m, {
        get(target, prop) {
          if (prop === "retry") return (options?: QueueRetryOptions) => (delays.set(target.id, options?.delaySeconds), target.retry(options));
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
  );
  const seen = new Proxy(batch, { get: (target, prop) => (prop === "messages" ? watched : Reflect.get(target, prop, target)) });
  const ctx = createExecutionContext();
  await consumeDeadLetters(seen, targetEnv, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    ackAll: result.ackAll,
    explicitAcks: result.explicitAcks,
    retryMessages: result.retryMessages.map((r: { msgId: string }) => ({ msgId: r.msgId, delaySeconds: delays.get(r.msgId) })),
  };
}

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const res = await SELF.fetch("https://gw.test/internal/v1/metrics", { headers: { authorization: `Bearer ${service.token}` } });
  expect(res.status).toBe(200);
  const parsed = parseExposition(await res.text());
  if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.reason}`);
  return parsed.families;
}

const value = (f: Map<string, ParsedFamily>, family: string, labels: Record<string, string>) => sumSamples(f.get(family), labels);

/** The env with BILLING_DLQ watched: what the consumer sends there, optionally failing every send. */
function watchedDlq(sent: { body: unknown; options?: QueueSendOptions }[], fail = false): Env {
  return {
    ...DOWN,
    BILLING_DLQ: {
      send: async (body: unknown, options?: QueueSendOptions) => {
        if (fail) throw new Error("queue unavailable");
        sent.push({ body, options });
      },
      sendBatch: () => Promise.reject(new Error("not used")),
    },
  } as unknown as Env;
}

describe("the retry schedules", () => {
  it("dead letters: 40 growing retries (60 s doubling to hourly) span over 24 h before the last delivery", () => {
    const schedule = retrySchedule(DEAD_LETTER_DEFAULTS, DEAD_LETTER_DEFAULTS.maxRetries);
    expect(schedule.slice(0, 8).map((r) => r.delaySeconds)).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600]);
    for (let i = 1; i < schedule.length; i++) expect(schedule[i]!.delaySeconds).toBeGreaterThanOrEqual(schedule[i - 1]!.delaySeconds);
    expect(schedule.at(-1)!.cumulativeSeconds).toBe(126_180);
    expect(schedule.find((r) => r.cumulativeSeconds >= 86_400)!.attempt).toBe(29);
  });

  it("ledger consumers: 8 growing retries span 915 s before a message is dead-lettered", () => {
    expect(retrySchedule(LEDGER_RETRY_DEFAULTS, 8).map((r) => r.delaySeconds)).toEqual([5, 10, 20, 40, 80, 160, 300, 300]);
    expect(retrySchedule(LEDGER_RETRY_DEFAULTS, 8).at(-1)!.cumulativeSeconds).toBe(915);
  });
});

describe("dead-letter consumer while Postgres is down", { timeout: 30_000 }, () => {
  it("retries each delivery later on the growing schedule, shows the letter unstored with its age, forgets it once stored", async () => {
    const queue = `test-dlq-${crypto.randomUUID().slice(0, 8)}`;
    const id = `dl-wait-${Date.now()}`;
    const since = new Date(Date.now() - 2 * HOUR_MS);
    const body = billingEvent(`${id}-req`);
    const delays: (number | undefined)[] = [];
    for (const attempts of [1, 2, 3, 7, 40]) {
      const result = await deliver(queue, { id, timestamp: since, attempts, body }, DOWN);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages.map((m) => m.msgId)).toEqual([id]);
      delays.push(result.retryMessages[0]!.delaySeconds);
    }
    expect(delays).toEqual([60, 120, 240, 3600, 3600]);
    const waiting = await vi.waitFor(async () => {
      const f = await scrape();
      expect(value(f, "gateway_dead_letters_unstored", { queue })).toBe(1);
      return f;
    });
    const age = value(waiting, "gateway_dead_letter_oldest_age_seconds", { queue, stage: "unstored" });
    expect(age).toBeGreaterThanOrEqual(7_200);
    expect(age).toBeLessThan(7_300);

    const stored = await deliver(queue, { id, timestamp: since, attempts: 6, body }, env);
    expect(stored.ackAll).toBe(true);
    await vi.waitFor(async () => expect(value(await scrape(), "gateway_dead_letters_unstored", { queue })).toBe(0));
    const rows = await db.selectFrom("dead_letter").select(["message_id", "attempts"]).where("queue", "=", queue).execute();
    expect(rows).toEqual([{ message_id: id, attempts: 6 }]);
  });

  it("a last delivery that fails is requeued with its history (never dropped); the copy is stored once under the first id", async () => {
    const queue = "gateway-billing-dlq";
    const id = `dl-last-${Date.now()}`;
    const since = new Date(Date.now() - 36 * HOUR_MS);
    const pack = packText([JSON.stringify(billingEvent(`${id}-a`)), JSON.stringify(billingEvent(`${id}-b`))]);
    const before = value(await scrape(), "gateway_dead_letters_requeued_total", { queue });
    const sent: { body: unknown; options?: QueueSendOptions }[] = [];
    const last = await deliver(queue, { id, timestamp: since, attempts: DEAD_LETTER_DEFAULTS.maxRetries + 1, body: pack }, watchedDlq(sent));
    expect(last.explicitAcks).toEqual([id]);
    expect(last.retryMessages).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.options).toEqual({ contentType: "json", delaySeconds: 3600 });
    expect(sent[0]!.body).toEqual({ reason: "retries exhausted", body: pack, message_id: id, since: since.getTime(), requeued: 1 });
    await vi.waitFor(async () => expect(value(await scrape(), "gateway_dead_letters_requeued_total", { queue }) - before).toBe(1));

    // The copy fails again on its first delivery: still watched under the first id, its age from the first arrival.
    const copy = { id: `${id}-copy`, timestamp: new Date(), attempts: 1, body: sent[0]!.body };
    expect((await deliver(queue, copy, DOWN)).retryMessages).toEqual([{ msgId: copy.id, delaySeconds: 60 }]);
    for (let i = 0; i < 2; i++) expect((await deliver(queue, { ...copy, attempts: 2 + i }, env)).ackAll).toBe(true);
    const rows = await db.selectFrom("dead_letter").selectAll().where("message_id", "=", id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe("retries exhausted (requeued 1 times after the dead-letter retries ran out)");
    expect(rows[0]!.attempts).toBe(2 + DEAD_LETTER_DEFAULTS.maxRetries + 1);
    expect((rows[0]!.body as { events: BillingMessage[] }).events.map((e) => e.request_id)).toEqual([`${id}-a`, `${id}-b`]);
  });

  it("when even the requeue fails, each event is logged (its listed fields, nothing else the message carried) and counted lost", async () => {
    const queue = "gateway-billing-dlq";
    const id = `dl-lost-${Date.now()}`;
    const event = { ...billingEvent(`${id}-req`, 123), flags: ["hold_expired"], uncollected_micros: 7 };
    const planted = { ...event, api_key: "sk-live-do-not-log", meta: { authorization: "Bearer secret" } };
    const before = value(await scrape(), "gateway_dead_letters_lost_total", { queue });
    const logged: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void logged.push(String(line)));
    const result = await deliver(queue, { id, timestamp: new Date(), attempts: DEAD_LETTER_DEFAULTS.maxRetries + 1, body: planted }, watchedDlq([], true));
    vi.restoreAllMocks();
    expect(result.explicitAcks).toEqual([]);
    const lost = logged.filter((l) => l.includes("dead letter lost")).map((l) => JSON.parse(l));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ level: "error", queue, message_id: id });
    // The logged event is the billing event itself (replayable as it is), and nothing else the message carried.
    expect(BillingMessageSchema.strict().parse(lost[0].event)).toEqual(event);
    expect(logged.join("\n")).not.toMatch(/sk-live-do-not-log|Bearer secret/);
    await vi.waitFor(async () => expect(value(await scrape(), "gateway_dead_letters_lost_total", { queue }) - before).toBe(1));
  });
});

describe("stored dead letters", { timeout: 30_000 }, () => {
  it("the scrape shows the oldest pending row's age per queue until it is replayed", async () => {
    const queue = `test-dlq-pending-${crypto.randomUUID().slice(0, 8)}`;
    await db
      .insertInto("dead_letter")
      .values({ queue, message_id: `p-${Date.now()}`, attempts: 9, body: JSON.stringify(billingEvent("p")), reason: "retries exhausted", created_at: sql<Date>`now() - interval '3 hours'` })
      .execute();
    const f = await scrape();
    expect(value(f, "gateway_dead_letters_pending", { queue })).toBe(1);
    const age = value(f, "gateway_dead_letter_oldest_age_seconds", { queue, stage: "pending" });
    expect(age).toBeGreaterThanOrEqual(3 * 3600);
    expect(age).toBeLessThan(3 * 3600 + 60);
    await db.updateTable("dead_letter").set({ replayed_at: new Date() }).where("queue", "=", queue).execute();
    expect((await scrape()).get("gateway_dead_letter_oldest_age_seconds")?.samples.some((s) => s.labels.queue === queue) ?? false).toBe(false);
  });
});
