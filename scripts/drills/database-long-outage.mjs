// Drill: the database stays down longer than the ledger consumers retry, so billing and audit events
// go to the dead-letter queues, whose consumers must keep them (retrying on the dead-letter schedule)
// until the database is back; then they are stored in `dead_letter`, replayed as an operator would
// (twice, to show a repeated replay bills nothing twice), and every event is in the ledger exactly
// once. The queue retry delays are shortened by vars (the retry counts are wrangler.toml's own), so
// the drill takes minutes instead of days. The drill owns the PGlite process, like database-down.
import { connect } from "../db-migrate.mjs";
import { startPglite } from "../pglite-server.mjs";
import { admin, scrapeMetrics, sleep, traffic, waitForLedger, waitUntil } from "./lib.mjs";

export { prepare } from "./database-down.mjs";

/**
 * Ledger consumers 1, 2, 2 ... s (8 retries: 15 s of delays); dead-letter consumers 1, 2, 4, 4 ... s
 * (40 retries: 155 s of delays, plus the 5 s batch window each time).
 */
export const vars = {
  QUEUE_RETRY_BASE_SECONDS: "1",
  QUEUE_RETRY_MAX_SECONDS: "2",
  DEAD_LETTER_RETRY_BASE_SECONDS: "1",
  DEAD_LETTER_RETRY_MAX_SECONDS: "4",
};
/** Well past the ledger consumers' retries (about 25 s with their batch window), well inside the dead-letter consumers'. */
export const OUTAGE_MS = 60_000;
const REQUESTS = { baseline: 5, whileDown: 20, after: 5 };
const DLQS = ["gateway-billing-dlq", "gateway-audit-dlq"];

const sample = (m, family, labels = "") => m.get(`${family}${labels}`) ?? 0;
const queueLabel = (queue) => `{queue="${queue}"}`;

async function query(databaseUrl, text, params) {
  const db = await connect(databaseUrl);
  try {
    return (await db.client.query(text, params)).rows;
  } finally {
    await db.close();
  }
}

/** What the ledger holds for the tenant, against the request ids the clients got. */
async function ledgerCheck(stack, tenantId, sentIds, answeredIds) {
  const [billing] = await query(
    stack.databaseUrl,
    `SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids, count(*) FILTER (WHERE request_id = ANY($2))::int AS ours,
            coalesce(sum(amount_micros), 0)::text AS total FROM billing_transaction WHERE tenant_id = $1 AND kind = 'debit'`,
    [tenantId, sentIds],
  );
  const [balance] = await query(stack.databaseUrl, `SELECT coalesce(sum(amount_micros), 0)::text AS micros FROM billing_transaction WHERE tenant_id = $1`, [tenantId]);
  const [audit] = await query(
    stack.databaseUrl,
    `SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids, count(*) FILTER (WHERE request_id = ANY($2))::int AS ours FROM audit_log WHERE tenant_id = $1`,
    [tenantId, answeredIds],
  );
  const usage = (await admin(stack, `/tenants/${tenantId}/usage`)).body?.total ?? null;
  const guard = (await admin(stack, `/tenants/${tenantId}`)).body ?? null;
  return {
    billing: { rows: billing.rows, distinctRequestIds: billing.ids, ofTheRequestsSent: billing.ours, duplicates: billing.rows - billing.ids, debitTotalMicros: Number(billing.total) },
    audit: { rows: audit.rows, distinctRequestIds: audit.ids, ofTheRequestsSent: audit.ours, duplicates: audit.rows - audit.ids },
    usageApi: usage && { requests: usage.requests, costMicros: usage.cost_micros },
    balances: { ledgerMicros: Number(balance.micros), guardMicros: guard?.balance_micros ?? null },
  };
}

async function replayAll(stack) {
  const calls = [];
  for (let i = 0; i < 20; i++) {
    const r = await admin(stack, "/dead-letters/replay", { method: "POST", body: { limit: 500 } });
    if (r.status !== 200) throw new Error(`replay: ${r.status} ${JSON.stringify(r.body)}`);
    calls.push(r.body);
    if (r.body.remaining === 0) break;
  }
  return { rows: calls.reduce((n, c) => n + c.replayed, 0), events: calls.reduce((n, c) => n + c.events, 0), unreadable: calls.at(-1).unreadable, calls: calls.length };
}

/** Waits until the ledger consumers have acknowledged `events` more events on each queue than in `before`. */
async function waitForAcks(stack, before, events, timeoutMs) {
  return waitUntil(async () => {
    const m = await scrapeMetrics(stack);
    return Object.entries(events).every(([queue, n]) => sample(m, "gateway_queue_messages_acked_total", queueLabel(queue)) >= (before[queue] ?? 0) + n);
  }, { timeoutMs });
}

const ackedOf = (m) => Object.fromEntries(["gateway-billing", "gateway-audit"].map((q) => [q, sample(m, "gateway_queue_messages_acked_total", queueLabel(q))]));

export async function drill(stack, db, { outageMs = OUTAGE_MS } = {}) {
  const tenantId = stack.credentials.external.tenant_id;
  const baseline = await traffic(stack, REQUESTS.baseline);
  await waitForLedger(stack, baseline.ok, 30_000);

  await db.handle.close();
  const downAt = Date.now();
  const whileDown = await traffic(stack, REQUESTS.whileDown);
  // The ledger consumers give up on the outage's events: both dead-letter consumers hold some, unstored.
  const deadLettered = await waitUntil(async () => {
    const m = await scrapeMetrics(stack);
    return DLQS.every((q) => sample(m, "gateway_dead_letters_unstored", queueLabel(q)) > 0);
  }, { timeoutMs: outageMs });
  // The fault lasts its full length: the dead-letter consumers keep failing (and retrying) meanwhile.
  await sleep(Math.max(0, downAt + outageMs - Date.now()));
  const endOfOutage = await scrapeMetrics(stack);
  db.handle = await startPglite({ dataDir: db.dataDir, port: db.port });
  const upAt = Date.now();
  const after = await traffic(stack, REQUESTS.after);

  // Back up: the dead-letter consumers' next retries store every dead letter.
  const stored = await waitUntil(async () => {
    const m = await scrapeMetrics(stack);
    return DLQS.every((q) => sample(m, "gateway_dead_letters_unstored", queueLabel(q)) === 0) && DLQS.every((q) => sample(m, "gateway_dead_letters_pending", queueLabel(q)) > 0);
  }, { timeoutMs: 120_000 });
  const storedAt = Date.now();
  const pending = await query(
    stack.databaseUrl,
    `SELECT queue, count(*)::int AS rows, sum(CASE WHEN body ? 'events' THEN jsonb_array_length(body->'events') ELSE 1 END)::int AS events
       FROM dead_letter WHERE replayed_at IS NULL GROUP BY queue ORDER BY queue`,
  );
  const beforeReplay = await ledgerCheck(stack, tenantId, [], []);

  const sent = [baseline, whileDown, after];
  // Every answered request has an audit row; the successful ones also a debit.
  const okIds = sent.flatMap((p) => p.requestIds);
  const ok = sent.reduce((n, p) => n + p.ok, 0);
  const replay = await replayAll(stack);
  let afterReplay = null;
  const replayed = await waitUntil(async () => {
    afterReplay = await ledgerCheck(stack, tenantId, okIds, okIds);
    return afterReplay.billing.ofTheRequestsSent >= ok && afterReplay.audit.ofTheRequestsSent >= okIds.length;
  }, { timeoutMs: 60_000 });

  // An operator replays the same rows again (a retried call, a crash between send and mark): nothing is
  // written twice. Done when the consumers have acknowledged every replayed event again (and, on the
  // audit queue, each replay call's own admin audit event).
  await query(stack.databaseUrl, `UPDATE dead_letter SET replayed_at = NULL WHERE replayed_at IS NOT NULL`);
  const ackedBeforeAgain = ackedOf(await scrapeMetrics(stack));
  const replayAgain = await replayAll(stack);
  const expectedAcks = Object.fromEntries(pending.map((p) => [p.queue.replace(/-dlq$/, ""), p.events]));
  expectedAcks["gateway-audit"] = (expectedAcks["gateway-audit"] ?? 0) + replayAgain.calls;
  const replayedAgain = await waitForAcks(stack, ackedBeforeAgain, expectedAcks, 60_000);
  const afterSecondReplay = await ledgerCheck(stack, tenantId, okIds, okIds);
  const final = await scrapeMetrics(stack);

  const perQueue = (m, family) => Object.fromEntries(DLQS.map((q) => [q, sample(m, family, queueLabel(q))]));
  return {
    injected: `PGlite stopped for ${Math.round((upAt - downAt) / 1000)} s (ledger consumers' retries: ~15 s of delays plus batch windows) while ${REQUESTS.whileDown} requests were sent, then restarted on the same port and data`,
    vars,
    phases: { baseline, whileDown, after },
    deadLetters: {
      mainRetriesExhaustedAfterS: deadLettered.held ? Math.round(deadLettered.waitedMs / 1000) : null,
      atEndOfOutage: {
        received: perQueue(endOfOutage, "gateway_queue_dead_letters_total"),
        unstored: perQueue(endOfOutage, "gateway_dead_letters_unstored"),
        oldestUnstoredAgeS: Object.fromEntries(DLQS.map((q) => [q, sample(endOfOutage, "gateway_dead_letter_oldest_age_seconds", `{queue="${q}",stage="unstored"}`)])),
      },
      storedAfterRestartS: stored.held ? Math.round((storedAt - upAt) / 1000) : null,
      pendingRows: pending,
      requeued: perQueue(final, "gateway_dead_letters_requeued_total"),
      lost: perQueue(final, "gateway_dead_letters_lost_total"),
    },
    ledgerBeforeReplay: { billingRows: beforeReplay.billing.rows, auditRows: beforeReplay.audit.rows },
    replay: { ...replay, ledgerCaughtUp: replayed.held, waitedS: Math.round(replayed.waitedMs / 1000) },
    afterReplay,
    secondReplay: { ...replayAgain, consumed: replayedAgain.held },
    afterSecondReplay,
    billing: { successes: ok, debits: afterSecondReplay.billing.ofTheRequestsSent, lost: ok - afterSecondReplay.billing.ofTheRequestsSent, duplicates: afterSecondReplay.billing.duplicates },
    audit: { answered: okIds.length, rows: afterSecondReplay.audit.ofTheRequestsSent, lost: okIds.length - afterSecondReplay.audit.ofTheRequestsSent, duplicates: afterSecondReplay.audit.duplicates },
  };
}
