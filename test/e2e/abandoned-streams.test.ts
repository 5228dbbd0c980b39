// Streams a client abandons, through real sockets against the running stack (`npm start`'s wrangler dev on
// workerd), mixed with normal traffic at concurrency 8: every request that reached the gateway ends with
// exactly one ledger row, an audit row and a closed hold, and the TenantGuard's spend equals the ledger's
// to the micro-unit. A vanished client's socket does not always cancel the body or abort request.signal;
// the request's end is still declared (by its idle deadline at the latest) and its completion still runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
import { createTenant, eventually, guardView, ledgerOf, pool, post, seeded, type ClientCall, type Stack, type TestTenant } from "./stack-client";

const ABANDONED = Number(process.env.ABANDONED_STREAMS ?? 500);
const NORMAL = Math.ceil(ABANDONED / 2);
const SEED = Number(process.env.ABANDON_SEED ?? 20261202);
const BALANCE = 1_000_000_000;
/** About the size of one streamed answer with these settings (40 chunks), so leave points cover all of it. */
const STREAM_BYTES = 40 * 230;

let stack: Stack;
let tenant: TestTenant;

beforeAll(async () => {
  const port = 19700 + Math.floor(Math.random() * 1000);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-abandon-${port}`, quiet: true, log: () => {} });
  // Long enough streams that a client can leave anywhere in them: 40 chunks, 3 ms apart.
  const res = await fetch(`${stack.mockUrl}/__mock/scenarios/default`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ chunks: 40, chunk_delay_ms: 3 }) });
  expect(res.ok).toBe(true);
  tenant = await createTenant(stack, BALANCE);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe("abandoned streams through real sockets", () => {
  it(`${ABANDONED} streams left at random points among ${NORMAL} normal calls (concurrency 8): 0 without a ledger row, an audit row and a closed hold`, async () => {
    const random = seeded(SEED);
    const url = `${stack.baseUrl}/external/v1/chat/completions`;
    const auth = { authorization: `Bearer ${tenant.apiKey}` };
    const tasks: (() => Promise<ClientCall & { abandoned: boolean }>)[] = [];
    const abandonedBodies: string[] = [];
    for (let i = 0; i < ABANDONED; i++) {
      // Some leave before any answer, some right after the headers, most somewhere in the body.
      const r = random();
      const leaveAt = r < 0.05 ? -1 : r < 0.15 ? 0 : 1 + Math.floor(random() * STREAM_BYTES);
      const model = random() < 0.3 ? "mock-anthropic-chat" : "mock-openai-chat";
      const body = JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: `leave ${i}` }] });
      abandonedBodies.push(body);
      tasks.push(async () => ({ ...(await post(url, { ...auth, "idempotency-key": `abandon-${SEED}-${i}` }, body, leaveAt)), abandoned: true }));
    }
    for (let i = 0; i < NORMAL; i++) {
      const stream = random() < 0.5;
      const body = JSON.stringify({ model: "mock-openai-chat", stream, messages: [{ role: "user", content: `normal ${i}` }] });
      tasks.push(async () => ({ ...(await post(url, auth, body)), abandoned: false }));
    }
    // Interleave the two kinds.
    for (let i = tasks.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [tasks[i], tasks[j]] = [tasks[j]!, tasks[i]!];
    }
    const calls = await pool(tasks, 8);
    const seen = calls.filter((c) => c.requestId !== undefined);
    const left = calls.filter((c) => c.abandoned && c.ending === "left_mid_body").length;
    expect(calls.filter((c) => !c.abandoned).every((c) => c.status === 200 && c.ending === "read_all")).toBe(true);
    expect(left).toBeGreaterThan(ABANDONED * 0.7);

    // Every hold closes: by the body's end, its cancel, the client's signal or, at the latest, the idle deadline.
    await eventually("every hold to close", async () => {
      const view = await guardView(stack, tenant.tenantId);
      return view.held === 0 || `held ${view.held} micro-units`;
    });
    await eventually("a ledger row and an audit row for every request", async () => {
      const ledger = await ledgerOf(stack, tenant.tenantId);
      const missingLedger = seen.filter((c) => !ledger.rows.has(c.requestId!)).length;
      const missingAudit = seen.filter((c) => !ledger.audited.has(c.requestId!)).length;
      return (missingLedger === 0 && missingAudit === 0) || `${missingLedger} without a ledger row, ${missingAudit} without an audit row, of ${seen.length}`;
    });
    const ledger = await ledgerOf(stack, tenant.tenantId);
    const view = await guardView(stack, tenant.tenantId);
    // One debit per request (corrections are separate rows, never a second debit), and the two books agree.
    for (const c of seen) expect(ledger.rows.get(c.requestId!)!.filter((r) => r.kind === "debit" && !r.flags.includes("correction")).length).toBeLessThanOrEqual(1);
    expect(BigInt(BALANCE - view.balance)).toBe(-ledger.debitTotal);
    console.log(`[figure] abandoned streams: ${ABANDONED} abandoned (${left} mid-body), ${NORMAL} normal, ${seen.length} reached the gateway; ` +
      `0 without ledger/audit rows, 0 open holds; spend ${BALANCE - view.balance} micro-units in both books`);

    // Their Idempotency-Keys are free again: a retry of an abandoned request runs (no 409 in use).
    for (let i = 0; i < 20; i++) {
      const retried = await post(url, { ...auth, "idempotency-key": `abandon-${SEED}-${i}` }, abandonedBodies[i]!);
      expect(retried.status).toBe(200);
    }
  }, 600_000);
});
