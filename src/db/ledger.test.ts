// The ledger against the real test database (PostgreSQL or PGlite), from inside workerd via the Neon Pool.
import { env } from "cloudflare:test";
import { sql, type Kysely } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDb, type DbEnv, type DbHandle } from "./client";
import { balanceOfRecord, billingEventProblem, insertAuditRecords, recordBillingEvents, type BillingEvent } from "./ledger";
import type { Database } from "./schema";
import { seededRandom } from "../routing/beta";

const testEnv: DbEnv & { TEST_DB_KIND?: string } = env;

let handle: DbHandle;
let db: Kysely<Database>;
beforeEach(() => {
  handle = createDb(testEnv, { max: 4 });
  db = handle.db;
});
afterEach(() => handle.dispose());

const newTenant = () => `t-${crypto.randomUUID()}`;


const debit = (tenantId: string, requestId: string, amount: number, tokens: readonly [number, number] = [10, 20]): BillingEvent => ({
  tenantId,
  keyId: "key-1",
  requestId,
  kind: "debit",
  amountMicros: -amount,
  model: "gpt-test",
  inputTokens: tokens[0],
  outputTokens: tokens[1],
  priceVersion: 3,
});

async function usageOf(tenantId: string) {
  return db
    .selectFrom("usage_daily")
    .select(["key_id", "model", "requests", "input_tokens", "output_tokens", "cost_micros"])
    .where("tenant_id", "=", tenantId)
    .orderBy("key_id")
    .execute();
}

async function rowCount(tenantId: string): Promise<number> {
  const row = await db
    .selectFrom("billing_transaction")
    .select(sql<string>`count(*)::text`.as("n"))
    .where("tenant_id", "=", tenantId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe("recordBillingEvents", () => {
  it("records an event delivered five times once, and counts its usage once", async () => {
    const tenant = newTenant();
    const event = debit(tenant, "req-1", 1_234);
    const first = await recordBillingEvents(db, [event, event]);
    expect(first).toEqual({ inserted: 1, isNew: [true, false] });
    for (let i = 0; i < 3; i++) expect(await recordBillingEvents(db, [event])).toEqual({ inserted: 0, isNew: [false] });

    expect(await rowCount(tenant)).toBe(1);
    expect(await balanceOfRecord(db, tenant)).toBe(-1_234n);
    expect(await usageOf(tenant)).toEqual([
      { key_id: "key-1", model: "gpt-test", requests: "1", input_tokens: "10", output_tokens: "20", cost_micros: "1234" },
    ]);
  });

  it("records one row when the same event races in from several connections", async () => {
    const tenant = newTenant();
    const event = debit(tenant, "req-race", 7);
    const results = await Promise.all(Array.from({ length: 5 }, () => recordBillingEvents(db, [event])));
    expect(results.map((r) => r.inserted).reduce((a, b) => a + b)).toBe(1);
    expect(await rowCount(tenant)).toBe(1);
    expect((await usageOf(tenant))[0]?.requests).toBe("1");
  });

  it("keeps 10,000 messages delivered 1-5 times in random order to one row each, totals exact", async () => {
    const seed = Date.now() % 2 ** 31;
    const random = seededRandom(seed);
    const tenant = newTenant();
    const events: BillingEvent[] = [];
    let expectedCost = 0n;
    let expectedIn = 0;
    let expectedOut = 0;
    for (let i = 0; i < 10_000; i++) {
      const amount = 1 + Math.floor(random() * 5_000_000);
      const tokens = [Math.floor(random() * 4_000), Math.floor(random() * 1_000)] as const;
      const e = debit(tenant, `req-${i}`, amount, tokens);
      e.keyId = `key-${i % 3}`;
      events.push(e);
      expectedCost += BigInt(amount);
      expectedIn += tokens[0];
      expectedOut += tokens[1];
    }
    const deliveries = events.flatMap((e) => Array.from({ length: 1 + Math.floor(random() * 5) }, () => e));
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    // Queue-sized batches (max_batch_size = 100), four consumers at a time.
    const batches: BillingEvent[][] = [];
    for (let i = 0; i < deliveries.length; i += 100) batches.push(deliveries.slice(i, i + 100));
    let inserted = 0;
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let batch = batches.shift(); batch; batch = batches.shift()) {
          const result = await recordBillingEvents(db, batch);
          inserted += result.inserted;
        }
      }),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    console.log(
      `[ledger] ${testEnv.TEST_DB_KIND}: ${deliveries.length} deliveries of 10000 events in ${seconds.toFixed(2)} s ` +
        `(${Math.round(deliveries.length / seconds)} deliveries/s, seed ${seed})`,
    );

    expect(inserted).toBe(10_000);
    expect(await rowCount(tenant)).toBe(10_000);
    expect(await balanceOfRecord(db, tenant)).toBe(-expectedCost);
    const usage = await usageOf(tenant);
    expect(usage.map((u) => u.key_id)).toEqual(["key-0", "key-1", "key-2"]);
    expect(usage.reduce((n, u) => n + Number(u.requests), 0)).toBe(10_000);
    expect(usage.reduce((n, u) => n + BigInt(u.cost_micros), 0n)).toBe(expectedCost);
    expect(usage.reduce((n, u) => n + Number(u.input_tokens), 0)).toBe(expectedIn);
    expect(usage.reduce((n, u) => n + Number(u.output_tokens), 0)).toBe(expectedOut);
  }, 60_000);

  it("sums balances exactly beyond 2^53 and leaves credits out of usage", async () => {
    const tenant = newTenant();
    const big = 9_000_000_000_000_001n; // above Number.MAX_SAFE_INTEGER: a float sum would round
    await recordBillingEvents(db, [
      { tenantId: tenant, requestId: "topup-1", kind: "credit", amountMicros: big },
      { tenantId: tenant, requestId: "topup-2", kind: "credit", amountMicros: big + 2n },
      debit(tenant, "req-1", 5),
      { tenantId: tenant, keyId: "key-1", requestId: "req-1", kind: "refund", amountMicros: 2, model: "gpt-test" },
    ]);
    expect(await balanceOfRecord(db, tenant)).toBe(2n * big + 2n - 5n + 2n);
    expect(await balanceOfRecord(db, tenant, "EUR")).toBe(0n);
    // One debit, partly refunded: one request, cost 3; the credits are not usage.
    expect(await usageOf(tenant)).toEqual([
      { key_id: "key-1", model: "gpt-test", requests: "1", input_tokens: "10", output_tokens: "20", cost_micros: "3" },
    ]);
  });

  it("counts response-cache hits (rows flagged cache_hit) and their cost in the roll-up, a correction once as money only", async () => {
    const tenant = newTenant();
    const hit = { ...debit(tenant, "req-hit", 500, [0, 0]), meta: { flags: ["cache_hit"] } };
    const events = [
      hit,
      debit(tenant, "req-miss", 1_000),
      // A settlement correction of the hit: more money, not another request or another hit.
      { ...debit(tenant, "req-hit:correction", 100, [0, 0]), meta: { corrects: "req-hit", flags: ["correction", "cache_hit"] } },
    ];
    await recordBillingEvents(db, events);
    await recordBillingEvents(db, [hit]);
    const row = await db.selectFrom("usage_daily").select(["requests", "cost_micros", "cache_hits", "cache_hit_cost_micros"]).where("tenant_id", "=", tenant).executeTakeFirstOrThrow();
    expect(row).toEqual({ requests: "2", cost_micros: "1600", cache_hits: "1", cache_hit_cost_micros: "600" });
  });

  it("puts a late delivery on the day the request happened (UTC)", async () => {
    const tenant = newTenant();
    await recordBillingEvents(db, [{ ...debit(tenant, "req-old", 9), occurredAt: "2026-01-31T23:59:59.999Z" }]);
    const row = await db
      .selectFrom("usage_daily")
      .select(sql<string>`day::text`.as("day"))
      .where("tenant_id", "=", tenant)
      .executeTakeFirstOrThrow();
    expect(row.day).toBe("2026-01-31");
  });

  it("refuses amounts with the wrong sign or that are not integers before touching the database", async () => {
    const tenant = newTenant();
    expect(billingEventProblem(debit(tenant, "r", -5))).toMatch(/wrong sign/);
    expect(billingEventProblem({ tenantId: tenant, requestId: "r", kind: "credit", amountMicros: 0.5 })).toMatch(/integer/);
    expect(billingEventProblem({ tenantId: tenant, requestId: "r", kind: "adjustment", amountMicros: 0n })).toMatch(/wrong sign/);
    await expect(recordBillingEvents(db, [debit(tenant, "ok", 1), debit(tenant, "bad", -1)])).rejects.toThrow(TypeError);
    expect(await rowCount(tenant)).toBe(0);
  });
});

describe("append-only ledger", () => {
  it("rejects UPDATE, DELETE and TRUNCATE of billing rows, even for the table owner", async () => {
    const tenant = newTenant();
    await recordBillingEvents(db, [debit(tenant, "req-1", 100)]);
    const where = sql`where tenant_id = ${tenant}`;
    await expect(sql`update billing_transaction set amount_micros = 0 ${where}`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from billing_transaction ${where}`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`truncate billing_transaction`.execute(db)).rejects.toThrow(/append-only/);
    expect(await balanceOfRecord(db, tenant)).toBe(-100n);
  });

  it("lets the gateway_app role append and read but not change or delete", async () => {
    const tenant = newTenant();
    const asApp = <T>(work: (trx: Kysely<Database>) => Promise<T>) =>
      db.transaction().execute(async (trx) => {
        await sql`set local role gateway_app`.execute(trx);
        return work(trx);
      });
    expect((await asApp((trx) => recordBillingEvents(trx, [debit(tenant, "req-1", 100)]))).inserted).toBe(1);
    expect(await asApp((trx) => balanceOfRecord(trx, tenant))).toBe(-100n);
    await expect(asApp((trx) => sql`update billing_transaction set amount_micros = 0`.execute(trx))).rejects.toThrow(/permission denied/);
    await expect(asApp((trx) => sql`delete from audit_log`.execute(trx))).rejects.toThrow(/permission denied/);
  });
});

describe("insertAuditRecords", () => {
  const record = (traceId: string, tenantId: string) => ({
    traceId,
    requestId: `req-${traceId}`,
    tenantId,
    channel: "external",
    route: "/external/v1/chat/completions",
    status: 429,
    errorCode: "rate_limit_exceeded",
    errorSource: "client" as const,
    latencyMs: 12,
    stepTimings: { validation: 1, rate_limit: 3 },
    flags: ["rate_limit_fail_open"],
    meta: { note: "x" },
  });

  it("is idempotent by trace id and keeps arrays and JSON intact", async () => {
    const tenant = newTenant();
    const trace = crypto.randomUUID();
    expect(await insertAuditRecords(db, [record(trace, tenant), record(trace, tenant)])).toEqual({ inserted: 1, isNew: [true, false] });
    expect(await insertAuditRecords(db, [record(trace, tenant)])).toEqual({ inserted: 0, isNew: [false] });
    const rows = await db.selectFrom("audit_log").selectAll().where("trace_id", "=", trace).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 429, flags: ["rate_limit_fail_open"], step_timings: { validation: 1, rate_limit: 3 } });
  });

  it("rejects edits and deletes; the purge removes only rows past retention", async () => {
    const tenant = newTenant();
    const [old, recent] = [crypto.randomUUID(), crypto.randomUUID()];
    const longAgo = new Date(Date.now() - 400 * 86_400_000);
    await insertAuditRecords(db, [{ ...record(old, tenant), occurredAt: longAgo }, record(recent, tenant)]);
    const where = sql`where tenant_id = ${tenant}`;
    await expect(sql`update audit_log set status = 200 ${where}`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_log ${where}`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`select audit_log_purge(0)`.execute(db)).rejects.toThrow(/at least 1/);
    await sql`select audit_log_purge(365)`.execute(db);
    const left = await db.selectFrom("audit_log").select("trace_id").where("tenant_id", "=", tenant).execute();
    expect(left.map((r) => r.trace_id)).toEqual([recent]);
  });
});
