// Audit retention against the real database: only rows past retention go, in bounded batches, and
// the daily cron runs it with AUDIT_LOG_RETENTION_DAYS and logs the count.
import { createExecutionContext, createScheduledController, env } from "cloudflare:test";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import { insertAuditRecords, type AuditRecord } from "../../src/db/ledger";
import { purgeAuditLog } from "../../src/jobs/purge-audit";
import { CRON_DAILY, handleScheduled } from "../../src/scheduled";

const handle = createDb(env, { max: 2 });
const db = handle.db;
afterAll(() => handle.dispose());
afterEach(() => vi.restoreAllMocks());

const DAY = 86_400_000;
const rowsAt = (tenantId: string, daysAgo: number, count: number): AuditRecord[] =>
  Array.from({ length: count }, (_, i) => ({
    traceId: `${tenantId}-${daysAgo}-${i}`,
    requestId: `${tenantId}-${daysAgo}-${i}`,
    tenantId,
    channel: "external",
    status: 200,
    occurredAt: new Date(Date.now() - daysAgo * DAY - i * 1000),
  }));

async function remaining(tenantId: string): Promise<string[]> {
  const rows = await db.selectFrom("audit_log").select("request_id").where("tenant_id", "=", tenantId).orderBy("request_id").execute();
  return rows.map((r) => r.request_id);
}

// Retentions of thousands of days here touch no other suite's rows (the shared database has none that old).
describe("purgeAuditLog", () => {
  it("removes only rows older than the retention, batch by batch until a call returns 0", async () => {
    const tenantId = `purge-${crypto.randomUUID()}`;
    const old = rowsAt(tenantId, 3_100, 5);
    const kept = [...rowsAt(tenantId, 2_990, 3), ...rowsAt(tenantId, 0, 2)];
    await insertAuditRecords(db, [...old, ...kept]);
    const result = await purgeAuditLog(db, { retentionDays: 3_000, batchRows: 2 });
    expect(await remaining(tenantId)).toEqual(kept.map((r) => r.requestId).sort());
    expect(result).toMatchObject({ retentionDays: 3_000, complete: true });
    expect(result.deleted).toBeGreaterThanOrEqual(5);
    // batches of two until one deletes nothing
    expect(result.batches).toBe(Math.ceil(result.deleted / 2) + 1);
  });

  it("stops at maxBatches and finishes on the next run", async () => {
    const tenantId = `purge-${crypto.randomUUID()}`;
    await insertAuditRecords(db, rowsAt(tenantId, 5_000, 5));
    const first = await purgeAuditLog(db, { retentionDays: 4_900, batchRows: 1, maxBatches: 2 });
    expect(first).toMatchObject({ deleted: 2, batches: 2, complete: false });
    expect(await remaining(tenantId)).toHaveLength(3);
    const second = await purgeAuditLog(db, { retentionDays: 4_900, batchRows: 10 });
    expect(second.complete).toBe(true);
    expect(await remaining(tenantId)).toEqual([]);
  });

  it("a retention of 0 keeps everything", async () => {
    const tenantId = `purge-${crypto.randomUUID()}`;
    await insertAuditRecords(db, rowsAt(tenantId, 6_000, 2));
    expect(await purgeAuditLog(db, { retentionDays: 0 })).toMatchObject({ deleted: 0, batches: 0, complete: true, skipped: "retention_disabled" });
    expect(await remaining(tenantId)).toHaveLength(2);
    await purgeAuditLog(db, { retentionDays: 5_900 });
  });
});

describe("the daily cron", () => {
  it("purges with AUDIT_LOG_RETENTION_DAYS (30) and logs one JSON line with the count", async () => {
    const tenantId = `purge-${crypto.randomUUID()}`;
    const kept = rowsAt(tenantId, 29, 2);
    await insertAuditRecords(db, [...rowsAt(tenantId, 31, 3), ...kept]);
    const log = vi.spyOn(console, "log");
    await handleScheduled(createScheduledController({ cron: CRON_DAILY, scheduledTime: Date.now() }), env, createExecutionContext());
    expect(await remaining(tenantId)).toEqual(kept.map((r) => r.requestId).sort());
    const lines = log.mock.calls.map((c) => JSON.parse(String(c[0]))).filter((l) => l.msg === "audit purge");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", retention_days: 30, complete: true });
    expect(lines[0].deleted).toBeGreaterThanOrEqual(3);
  });

  it("a job that cannot reach the database is logged and fails the run", async () => {
    const error = vi.spyOn(console, "error");
    const down = { ...env, DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    await expect(handleScheduled(createScheduledController({ cron: CRON_DAILY, scheduledTime: Date.now() }), down, createExecutionContext())).rejects.toThrow(/audit_purge/);
    expect(error.mock.calls.map((c) => JSON.parse(String(c[0])))).toContainEqual(expect.objectContaining({ level: "error", msg: "scheduled job failed", job: "audit_purge" }));
  });

  it("an unknown schedule runs nothing", async () => {
    const warn = vi.spyOn(console, "warn");
    await handleScheduled(createScheduledController({ cron: "0 0 1 1 *", scheduledTime: Date.now() }), env, createExecutionContext());
    expect(warn.mock.calls.map((c) => JSON.parse(String(c[0])).msg)).toEqual(["scheduled run with no job"]);
  });
});
