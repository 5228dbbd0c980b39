// The consumer-throughput figure: puts a burst of billing events straight onto the gateway's real
// billing queue, packed as the gateway packs them (each event delivered twice, so idempotency is exercised too) and times how long the queue
// consumer takes to write them to the ledger database, read back through the admin usage route.
import { cpuMeter } from "./proc-stats.mjs";

/**
 * @param {{ host: any, gatewayUrl: string, adminToken: string, gatewayPid: number, count?: number, timeoutMs?: number, log: (l: string) => void }} opts
 * @returns {Promise<{ messages: number, deliveries: number, rows: number, seconds: number, rowsPerSecond: number, cpuUsPerRow: number | null } | { error: string }>}
 */
export async function measureConsumer({ host, gatewayUrl, adminToken, gatewayPid, count = 5_000, timeoutMs = 120_000, log }) {
  const admin = (method, route, body) =>
    fetch(`${gatewayUrl}/admin/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, json: await res.json() }));
  const tenant = await admin("POST", "/tenants", { name: "consumer throughput" });
  if (tenant.status !== 201) return { error: `could not create the tenant: ${tenant.status}` };
  const at = new Date().toISOString();
  const messages = Array.from({ length: count }, (_, i) => ({
    v: 1, request_id: `consumer-bench-${i}`, tenant_id: tenant.json.id, key_id: "key_bench", channel: "external", kind: "debit",
    amount_micros: -1, currency: "USD", model: "mock-openai-chat", upstream: "bench", input_tokens: 1, output_tokens: 1,
    usage_estimated: false, price_version: 1, created_at: at,
  }));
  const deliveries = [...messages, ...messages];
  const meter = cpuMeter({ gateway: gatewayPid });
  const started = Date.now();
  await host.enqueueBilling(deliveries);
  log(`consumer: ${deliveries.length} events enqueued in ${Date.now() - started} ms`);
  let rows = 0;
  const day = at.slice(0, 10);
  while (Date.now() - started < timeoutMs) {
    const usage = await admin("GET", `/tenants/${tenant.json.id}/usage?from=${day}&to=${day}`);
    rows = Number(usage.json?.total?.requests ?? 0);
    if (rows >= count) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - started) / 1000;
  const cpuNs = meter.stop().gateway ?? null;
  if (rows < count) return { error: `only ${rows} of ${count} rows after ${seconds.toFixed(1)} s` };
  return { messages: count, deliveries: deliveries.length, rows, seconds, rowsPerSecond: count / seconds, cpuUsPerRow: cpuNs === null ? null : cpuNs / 1000 / count };
}
