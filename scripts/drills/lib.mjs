// Shared pieces of the chaos drills: a local stack on loopback, bounded traffic with status counts,
// the mock provider's fault switch, and the ledger check (client successes vs ledger debits).
import { startDevStack } from "../dev-stack.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the stack in its own state dir (loopback only); extra env (e.g. DATABASE_URL) is honoured by
 * startDevStack, `vars` (e.g. shortened queue retry delays) are added to the gateway's settings.
 */
export async function startStack(name, vars = {}) {
  const port = 20100 + Math.floor(Math.random() * 500);
  return startDevStack({ port, stateDir: `.dev/drill-${name}-${port}`, quiet: true, log: () => {}, vars });
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

/** One external chat call; returns { status, code, ms, requestId } (the gateway's request id, when it answered). */
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
    return { status: res.status, code: body?.error?.code ?? null, ms: Date.now() - started, requestId: res.headers.get("x-gateway-request-id") };
  } catch (error) {
    return { status: 0, code: error.name, ms: Date.now() - started };
  }
}

/**
 * `count` sequential calls; a tally of "status code" -> n, the successes and the slowest call. The
 * request ids of the answered calls are in `requestIds` (not enumerable: left out of printed records).
 */
export async function traffic(stack, count, opts) {
  const tally = {};
  const requestIds = [];
  let ok = 0;
  let maxMs = 0;
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const r = await chat(stack, opts);
    const key = r.code ? `${r.status} ${r.code}` : String(r.status);
    tally[key] = (tally[key] ?? 0) + 1;
    if (r.status === 200) ok++;
    if (r.requestId) requestIds.push(r.requestId);
    maxMs = Math.max(maxMs, r.ms);
    latencies.push(r.ms);
  }
  latencies.sort((a, b) => a - b);
  const result = { tally, ok, maxMs, medianMs: latencies[Math.floor(latencies.length / 2)] ?? 0 };
  return Object.defineProperty(result, "requestIds", { value: requestIds, enumerable: false });
}

export async function admin(stack, route, { method = "GET", body } = {}) {
  const res = await fetch(`${stack.baseUrl}/admin/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${stack.credentials.admin_token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** The gateway's Prometheus scrape as name{labels} -> value (service token of the demo stack). */
export async function scrapeMetrics(stack) {
  const res = await fetch(`${stack.baseUrl}/internal/v1/metrics`, { headers: { authorization: `Bearer ${stack.credentials.internal.token}` } });
  if (!res.ok) throw new Error(`metrics: ${res.status}`);
  const samples = new Map();
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) samples.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return samples;
}

/** Polls `check` (true when done) every `everyMs` until it holds or `timeoutMs` passes; returns whether it held and when. */
export async function waitUntil(check, { timeoutMs, everyMs = 1_000 }) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return { held: true, waitedMs: Date.now() - started };
    await sleep(everyMs);
  }
  return { held: false, waitedMs: Date.now() - started };
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
