// Drill: the upstream answers 503 for a while, then recovers. Expect the breaker to open (fast 503
// circuit_open, no upstream calls), then a probe to close it; every 200 billed exactly once.
import { auditFlags, breakerOf, ledgerRequests, setScenario, sleep, traffic, upstreamCalls, waitForLedger } from "./lib.mjs";

export async function drill(stack) {
  const debitsBefore = await ledgerRequests(stack);
  const baseline = await traffic(stack, 5);
  await setScenario(stack, { status: 503, error_message: "drill: upstream down" });
  const failing = await traffic(stack, 15);
  const breakerWhileFailing = await breakerOf(stack);
  const callsBefore = await upstreamCalls(stack);
  const whileOpen = await traffic(stack, 5);
  const upstreamCallsWhileOpen = (await upstreamCalls(stack)) - callsBefore;
  await setScenario(stack, null);
  // Wait out the open period, then probe until traffic flows again (bounded: 40 calls over ~60 s).
  let recovery = { tally: {}, ok: 0 };
  for (let i = 0; i < 40 && recovery.ok === 0; i++) {
    await sleep(1_500);
    recovery = await traffic(stack, 1);
  }
  const after = await traffic(stack, 5);
  const breakerAfter = await breakerOf(stack);
  const ok = baseline.ok + failing.ok + whileOpen.ok + recovery.ok + after.ok;
  const ledger = await waitForLedger(stack, debitsBefore + ok, 30_000);
  return {
    injected: "mock provider status 503 on every call (default scenario), then reset",
    phases: { baseline, failing, whileOpen: { ...whileOpen, upstreamCalls: upstreamCallsWhileOpen }, recovery, after },
    breaker: { whileFailing: breakerWhileFailing, after: breakerAfter },
    flags: await auditFlags(stack),
    billing: { successes: ok, debits: ledger.debits - debitsBefore, lost: ok - (ledger.debits - debitsBefore) },
  };
}
