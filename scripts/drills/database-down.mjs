// Drill: the database (the stack's PGlite) stops mid-run and comes back. Expect client traffic to
// carry on (billing and audit go through queues), consumers to retry, and every debit to be written
// once the database is back. The drill owns the PGlite process, so startDevStack gets DATABASE_URL.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { startPglite } from "../pglite-server.mjs";
import { auditFlags, ledgerRequests, sleep, traffic, waitForLedger } from "./lib.mjs";

/** Starts PGlite for the stack; returns what the runner needs to restart it on the same port and data. */
export async function prepare(name) {
  const dataDir = path.resolve(`.dev/drill-${name}-pglite-${process.pid}`);
  // PGlite creates its data directory but not the parents (.dev is missing in a fresh checkout).
  await mkdir(path.dirname(dataDir), { recursive: true });
  const pg = await startPglite({ dataDir });
  process.env.DATABASE_URL = pg.databaseUrl;
  return { dataDir, port: pg.port, handle: pg };
}

export async function drill(stack, db) {
  const debitsBefore = await ledgerRequests(stack);
  const baseline = await traffic(stack, 5);
  await waitForLedger(stack, debitsBefore + baseline.ok, 30_000);
  await db.handle.close();
  const downAt = Date.now();
  const whileDown = await traffic(stack, 10);
  const ledgerWhileDown = await ledgerRequests(stack).catch(() => null);
  await sleep(5_000);
  db.handle = await startPglite({ dataDir: db.dataDir, port: db.port });
  const downForMs = Date.now() - downAt;
  const after = await traffic(stack, 5);
  const ok = baseline.ok + whileDown.ok + after.ok;
  const ledger = await waitForLedger(stack, debitsBefore + ok, 180_000);
  return {
    injected: `PGlite server stopped for ${Math.round(downForMs / 1000)} s while 10 requests were sent, then restarted on the same port and data`,
    phases: { baseline, whileDown, after },
    ledgerReadableWhileDown: ledgerWhileDown !== null,
    ledgerCatchUpMs: ledger.waitedMs,
    flags: await auditFlags(stack),
    billing: { successes: ok, debits: ledger.debits - debitsBefore, lost: ok - (ledger.debits - debitsBefore) },
  };
}
