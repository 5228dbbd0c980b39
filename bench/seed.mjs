// Seeds the gateway under test through its admin API, as the dev stack does: the demo presets
// pointing at the mock, a tenant with a signed and an unsigned key (limits and quotas set, but far
// above what the benchmark sends, so every check runs and none rejects), credit, and a service token.
import { demoPresets } from "../scripts/demo-presets.mjs";
import { CAPPED_MODEL } from "./arms.mjs";

/** Concurrency caps for the external_capped arm: checked on every request, never reached. */
const CAP = 10_000;

const NO_LIMIT_RATES = { requests_per_minute: 1_000_000_000, tokens_per_minute: 1_000_000_000_000 };
const NO_LIMIT_QUOTAS = [
  { type: "requests", period: "daily", limit: 1_000_000_000_000 },
  { type: "tokens", period: "monthly", limit: 1_000_000_000_000_000 },
];
const CREDIT_MICROS = 100_000_000_000_000; // 100M USD: no hold or charge can run out during a run

export class SeedError extends Error {}

async function admin(baseUrl, adminToken, method, route, body) {
  const res = await fetch(`${baseUrl}/admin/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new SeedError(`admin ${method} /admin/v1${route} answered ${res.status}: ${text.slice(0, 600)}`);
  return text ? JSON.parse(text) : null;
}

/** @returns {Promise<{ tenantId: string, signed: { key: string, secret: string }, unsigned: { key: string }, capped: { key: string }, cached: { key: string }, serviceToken: string }>} */
export async function seedGateway(baseUrl, adminToken, mockUrl) {
  const presets = demoPresets(mockUrl);
  // The external_capped arm's target: the OpenAI preset again, with a concurrency cap no run reaches.
  const capped = { ...presets.find((p) => p.id === "mock-openai"), id: "mock-openai-capped", model: CAPPED_MODEL, aliases: [], max_concurrent_requests: CAP };
  await admin(baseUrl, adminToken, "PUT", "/presets", { items: [...presets, capped] });
  const tenant = await admin(baseUrl, adminToken, "POST", "/tenants", {
    name: "Benchmark tenant",
    rate_limits: NO_LIMIT_RATES,
    quotas: NO_LIMIT_QUOTAS,
  });
  const keyBody = (name, signature) => ({ name, signature, rate_limits: NO_LIMIT_RATES, quotas: NO_LIMIT_QUOTAS });
  const signed = await admin(baseUrl, adminToken, "POST", `/tenants/${tenant.id}/keys`, keyBody("bench signed key", "required"));
  const unsigned = await admin(baseUrl, adminToken, "POST", `/tenants/${tenant.id}/keys`, keyBody("bench unsigned key", "optional"));
  await admin(baseUrl, adminToken, "POST", `/tenants/${tenant.id}/credits`, {
    amount_micros: CREDIT_MICROS,
    idempotency_key: `bench-${tenant.id}`,
  });
  // Its own tenant (so its slots are counted apart) with caps on the tenant and the key.
  const cappedTenant = await admin(baseUrl, adminToken, "POST", "/tenants", { name: "Benchmark tenant, capped", rate_limits: NO_LIMIT_RATES, quotas: NO_LIMIT_QUOTAS, max_concurrent_requests: CAP });
  const cappedKey = await admin(baseUrl, adminToken, "POST", `/tenants/${cappedTenant.id}/keys`, { ...keyBody("bench capped key", "optional"), max_concurrent_requests: CAP });
  await admin(baseUrl, adminToken, "POST", `/tenants/${cappedTenant.id}/credits`, { amount_micros: CREDIT_MICROS, idempotency_key: `bench-${cappedTenant.id}` });
  // The response-cache arms' tenant: the cache on (tenant scope, 5 minutes).
  const cachedTenant = await admin(baseUrl, adminToken, "POST", "/tenants", { name: "Benchmark tenant, cached", rate_limits: NO_LIMIT_RATES, quotas: NO_LIMIT_QUOTAS, cache: { enabled: true, ttl_s: 300, scope: "tenant" } });
  const cachedKey = await admin(baseUrl, adminToken, "POST", `/tenants/${cachedTenant.id}/keys`, keyBody("bench cached key", "optional"));
  await admin(baseUrl, adminToken, "POST", `/tenants/${cachedTenant.id}/credits`, { amount_micros: CREDIT_MICROS, idempotency_key: `bench-${cachedTenant.id}` });
  const service = await admin(baseUrl, adminToken, "POST", "/services", { name: "Benchmark service", operations: true });
  return {
    tenantId: tenant.id,
    signed: { key: signed.key, secret: signed.signing_secret },
    unsigned: { key: unsigned.key },
    capped: { key: cappedKey.key },
    cached: { key: cachedKey.key },
    serviceToken: service.token,
  };
}

/**
 * One request through an arm before it is measured: a 2xx with a non-empty body, or the exact
 * status and body, so a broken gateway path is reported precisely instead of benchmarked.
 */
export async function probe(target) {
  const headers = { ...target.headers, ...(target.sign ? target.sign() : {}) };
  try {
    const res = await fetch(new URL(target.path, target.url), { method: "POST", headers, body: target.body });
    const text = await res.text();
    if (res.ok && text.length > 0) return { ok: true, status: res.status };
    return { ok: false, status: res.status, body: text.slice(0, 800) };
  } catch (error) {
    return { ok: false, status: 0, body: String(error?.cause ?? error) };
  }
}
