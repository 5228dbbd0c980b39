// Drill: the upstream takes 3 s before answering. Expect slower 200s (or timeouts past the
// configured upstream timeout), no gateway errors, every 200 billed once.
import { auditFlags, ledgerRequests, setScenario, traffic, waitForLedger } from "./lib.mjs";

export const LATENCY_MS = 3_000;

export async function drill(stack) {
  const debitsBefore = await ledgerRequests(stack);
  const baseline = await traffic(stack, 5);
  await setScenario(stack, { latency_ms: LATENCY_MS });
  const slow = await traffic(stack, 6, { timeoutMs: 60_000 });
  await setScenario(stack, null);
  const after = await traffic(stack, 5);
  const ok = baseline.ok + slow.ok + after.ok;
  const ledger = await waitForLedger(stack, debitsBefore + ok, 30_000);
  return {
    injected: `mock provider latency_ms ${LATENCY_MS} before headers (default scenario), then reset`,
    phases: { baseline, slow, after },
    flags: await auditFlags(stack),
    billing: { successes: ok, debits: ledger.debits - debitsBefore, lost: ok - (ledger.debits - debitsBefore) },
  };
}
