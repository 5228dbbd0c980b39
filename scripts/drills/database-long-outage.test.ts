// The database-long-outage drill as a test, through the real local stack (wrangler dev: Miniflare's
// queues honour wrangler.toml's max_retries and retry_delay, and the consumers' per-message delays):
// the database stays down past the ledger consumers' retries, the dead-letter consumers keep every
// event until it is back, and after the operator's replay (done twice) every billing and audit event is
// in the ledger exactly once, with the tenant's Durable Object balance equal to the ledger's. With the
// dead-letter consumers' old settings (no max_retries: 3 quick retries) the events are dropped and it fails.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drill, prepare, vars, OUTAGE_MS } from "./database-long-outage.mjs";
import { startStack } from "./lib.mjs";

let db: { handle: { close(): Promise<void> } } | undefined;
let stack: { stop(): Promise<void> } | undefined;

beforeAll(async () => {
  db = await prepare("database-long-outage-test");
  stack = await startStack("database-long-outage-test", vars);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await db?.handle.close().catch(() => {});
}, 60_000);

describe("drill: a database outage longer than the ledger consumers' retries", () => {
  it("keeps every billing and audit event in the dead-letter queues and writes each exactly once after the replay", { timeout: 480_000 }, async () => {
    const record = await drill(stack, db);
    console.log(`[figure] database-long-outage drill: ${JSON.stringify({ injected: record.injected, phases: record.phases, deadLetters: record.deadLetters, replay: record.replay, billing: record.billing, audit: record.audit, ledger: record.afterSecondReplay })}`);
    for (const phase of Object.values(record.phases) as { ok: number }[]) expect(phase.ok).toBeGreaterThan(0);
    // Requests never wait on the database: every one sent during the outage succeeded.
    expect(record.phases.whileDown.tally).toEqual({ 200: 20 });
    const successes: number = record.billing.successes;

    // The outage outlasted the ledger consumers' retries: both dead-letter consumers held events, unstored.
    const dl = record.deadLetters;
    expect(dl.mainRetriesExhaustedAfterS).not.toBeNull();
    expect(dl.mainRetriesExhaustedAfterS * 1000).toBeLessThan(OUTAGE_MS);
    for (const queue of ["gateway-billing-dlq", "gateway-audit-dlq"]) {
      expect(dl.atEndOfOutage.unstored[queue]).toBeGreaterThan(0);
      expect(dl.atEndOfOutage.oldestUnstoredAgeS[queue]).toBeGreaterThanOrEqual(30);
      expect(dl.requeued[queue]).toBe(0);
      expect(dl.lost[queue]).toBe(0);
    }
    // Once it was back they were stored, then replayed into the ledger.
    expect(dl.storedAfterRestartS).not.toBeNull();
    expect(dl.pendingRows.find((r: { queue: string }) => r.queue === "gateway-billing-dlq")?.events).toBeGreaterThan(0);
    expect(record.replay.ledgerCaughtUp).toBe(true);
    expect(record.secondReplay.consumed).toBe(true);

    // Exactly once, after two replays: one debit and one audit row per request id the clients got.
    const ledger = record.afterSecondReplay;
    expect(record.billing).toEqual({ successes, debits: successes, lost: 0, duplicates: 0 });
    expect(record.audit).toEqual({ answered: record.audit.answered, rows: record.audit.answered, lost: 0, duplicates: 0 });
    expect(record.audit.answered).toBeGreaterThanOrEqual(successes);
    expect(ledger.billing).toMatchObject({ rows: successes, distinctRequestIds: successes, ofTheRequestsSent: successes, duplicates: 0 });
    expect(ledger.audit.duplicates).toBe(0);
    expect(ledger.usageApi).toEqual({ requests: successes, costMicros: -ledger.billing.debitTotalMicros });
    expect(ledger.billing.debitTotalMicros).toBeLessThan(0);
    // Totals exact: the tenant's Durable Object balance is the ledger's, to the micro-unit.
    expect(ledger.balances.guardMicros).toBe(ledger.balances.ledgerMicros);
    expect(record.afterReplay).toEqual(record.afterSecondReplay);
  });
});
