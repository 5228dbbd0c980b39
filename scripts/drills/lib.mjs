// Shared pieces of the chaos drills: a local stack on loopback, bounded traffic with status counts,
// the mock provider's fault switch, and the ledger check (client successes vs ledger debits).
import { startDevStack } from "../dev-stack.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the stack in its own state dir (loopback only); extra env (e.g. DATABASE_URL) is honoured by startDevStack. */
export async function startStack(name) {
  const port = 20100 + Math.floor(Math.random() * 500);
  return startDevStack({ port, stateDir: `.dev/drill-${name}-${port}`, quiet: true, log: () => {} });
}

/** Sets (or with null, resets) the mock's "default" scenario, which the demo presets call. */
export async function setScenario(stack, settings) {
  const res = await fetch(`${stack.mockUrl}/__mock/scenarios/default`, settings === null
    ? { method: "DELETE" }
    : { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(settings) });
  if (!res.ok) throw new Error(`mock scenario: ${res.status} ${await res.text()}`);
}

export async function upstreamCalls(stack) {
  return (await (await fetch(`${stack.mockUrl}/__mock/scenarios/default`)).json()).count;
}

/** One external chat call; returns { status, code, ms }. */
export async function chat(stack, { timeoutMs = 30_000 } = {}) {
  const started = Date.now();
  try {
    const res = await fetch(`${stack.credentials.external.base_url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.credentials.external.api_key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "drill" }] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.json().catch(() => null);
    return { status: res.status, code: body?.error?.code ?? null, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, code: error.name, ms: Date.now() - started };
  }
}

/** `count` sequential calls; a tally of "status code" -> n, the successes and the slowest call. */
export async function traffic(stack, count, opts) {
  const tally = {};
  let ok = 0;
  let maxMs = 0;
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const r = await chat(stack, opts);
    const key = r.code ? `${r.status} ${r.code}` : String(r.status);
    tally[key] = (tally[key] ?? 0) + 1;
    if (r.status === 200) ok++;
    maxMs = Math.max(maxMs, r.ms);
    latencies.push(r.ms);
  }
  latencies.sort((a, b) => a - b);
  return { tally, ok, maxMs, medianMs: latencies[Math.floor(latencies.length / 2)] ?? 0 };
}

async function admin(stack, route) {
  const res = await fetch(`${stack.baseUrl}/admin/v1${route}`, { headers: { authorization: `Bearer ${stack.credentials.admin_token}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Ledger debits of the demo tenant (requests billed), or null when the ledger cannot be read. */
export async function ledgerRequests(stack) {
  const r = await admin(stack, `/tenants/${stack.credentials.external.tenant_id}/usage`);
  return r.status === 200 ? r.body.total.requests : null;
}

/** Flags on the demo tenant's latest audit records (fail-open, estimated usage ...), as flag -> n. */
export async function auditFlags(stack) {
  const r = await admin(stack, `/tenants/${stack.credentials.external.tenant_id}/audit?limit=100`);
  if (r.status !== 200) return { unavailable: r.status };
  const flags = {};
  for (const rec of r.body.data) for (const f of rec.flags) flags[f] = (flags[f] ?? 0) + 1;
  return flags;
}

/** Waits until the ledger holds `expected` debits (the queue consumer may still be retrying). */
export async function waitForLedger(stack, expected, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = null;
  while (Date.now() < deadline) {
    seen = await ledgerRequests(stack).catch(() => null);
    if (seen !== null && seen >= expected) return { debits: seen, waitedMs: timeoutMs - (deadline - Date.now()) };
    await sleep(1_000);
  }
  return { debits: seen, waitedMs: timeoutMs };
}

export async function breakerOf(stack, target = "mock-openai") {
  const res = await fetch(`${stack.baseUrl}/internal/dashboard/data`, { headers: { authorization: `Bearer ${stack.credentials.admin_token}` } });
  const data = await res.json();
  return data.byUpstream.find((u) => u.key === target)?.breaker ?? null;
}
