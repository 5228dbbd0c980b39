// Header hygiene in both directions on the external channel, and a canary secret that must never leak (responses, logs, queues).
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { clearConfigCache } from "../../src/config/store";
import { hashApiKey } from "../../src/security/api-keys";
import { eventsOf } from "../../queues/messages";
import { signRequest } from "../../src/security/signature";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitUntil } from "../fixtures/wait";

const SCENARIO = "sec-headers";
const BASE = "https://gw.test/external/v1";
const CHAT = `${BASE}/chat/completions`;
/** Upstream headers a tenant must never see (a subset of sanitize-response's list, plus cookies). */
const FORBIDDEN_RESPONSE_HEADERS = ["set-cookie", "server", "via", "x-powered-by", "openai-organization", "openai-project", "anthropic-organization-id", "x-upstream-request-id"];

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "header hygiene" }], ...extra });

async function signedInit(k: SeededKey, body: string, url = CHAT, method = "POST"): Promise<Record<string, string>> {
  return { ...(await signRequest({ key: k.apiKey, secret: k.signingSecret, method, url, body: method === "GET" ? undefined : body })), "content-type": "application/json" };
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("client headers never reach the upstream", () => {
  // CRLF in a header value cannot be tested through fetch: the Headers class itself refuses to build
  // one (below), so no request carrying it can reach the Worker from the platform.
  it("a CR/LF header value cannot even be constructed with fetch's Headers", () => {
    expect(() => new Headers({ "x-injected": "a\r\nx-evil: 1" })).toThrow(TypeError);
    expect(() => new Headers({ "x-injected": "a\nb" })).toThrow(TypeError);
  });

  it("Authorization, Cookie, Host, X-Forwarded-Host, Proxy-Authorization, cf-* and the client's key headers are not forwarded, for every provider", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const hostile = {
      cookie: "session=client-cookie",
      host: "evil.example",
      "x-forwarded-host": "evil.example",
      "x-forwarded-for": "203.0.113.66",
      "proxy-authorization": "Basic Y2xpZW50OnNlY3JldA==",
      "cf-connecting-ip": "203.0.113.66",
      "cf-ray": "client-ray",
      "cf-ipcountry": "XX",
      "cf-worker": "client-worker",
      "cf-access-client-secret": "client-access-secret",
      "x-api-key": "client-x-api-key",
      "api-key": "client-api-key",
      "openai-organization": "client-org",
    };
    for (const [model, credentialHeader, credential] of [
      ["mock-openai-chat", "authorization", `Bearer ${env.MOCK_API_KEY}`],
      ["mock-anthropic-chat", "x-api-key", env.MOCK_API_KEY],
      ["mock-azure-chat", "api-key", env.MOCK_API_KEY],
    ] as const) {
      const body = JSON.stringify({ model, messages: [{ role: "user", content: "who am I" }] });
      const signed = await signedInit(k, body);
      const res = await SELF.fetch(CHAT, { method: "POST", headers: { ...signed, ...hostile }, body });
      expect(res.status, model).toBe(200);
      await res.text();
      const seen = (await mockRequests(SCENARIO)).requests.at(-1)!.headers;
      expect(seen[credentialHeader], model).toBe(credential);
      // The only credential the upstream sees is the gateway's own.
      const credentialNames = ["authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"].filter((h) => seen[h] !== undefined);
      expect(credentialNames, model).toEqual([credentialHeader]);
      expect(seen.host).toBe(new URL(env.MOCK_PROVIDER_URL).host);
      expect(seen["x-forwarded-host"]).toBeUndefined();
      expect(seen["x-forwarded-for"]).toBeUndefined();
      // workerd adds its own CF-Worker header to every subrequest (so does Cloudflare); the client's never passes.
      expect(Object.keys(seen).filter((h) => h.startsWith("cf-") && h !== "cf-worker")).toEqual([]);
      const everything = JSON.stringify(seen);
      for (const value of [...Object.values(hostile), k.apiKey, signed["X-Gateway-Signature"]!, signed["X-Gateway-Nonce"]!]) {
        expect(everything, `${model}: ${value}`).not.toContain(value);
      }
      expect(Object.keys(seen).filter((h) => h.startsWith("x-gateway-"))).toEqual([]);
    }
  });
});

describe("responses on the external channel carry no provider or infrastructure headers", () => {
  // The mock provider does not send these headers itself, so this pins that the gateway adds none on any
  // path; the stripping of upstream headers is shown with x-upstream-request-id in gateway-upstream.test.ts.
  it("200 JSON, 200 stream, and 4xx errors", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const body = chatBody();
    const streamBody = chatBody({ stream: true });
    const responses = [
      await SELF.fetch(CHAT, { method: "POST", headers: await signedInit(k, body), body }),
      await SELF.fetch(CHAT, { method: "POST", headers: await signedInit(k, streamBody), body: streamBody }),
      await SELF.fetch(`${BASE}/models`, { headers: await signedInit(k, "", `${BASE}/models`, "GET") }),
      await SELF.fetch(CHAT, { method: "POST", headers: { authorization: `Bearer ${k.apiKey}` }, body }),
      await SELF.fetch(CHAT, { method: "POST", headers: { authorization: "Bearer gk_bad" }, body }),
      await SELF.fetch(`${BASE}/nope`, { method: "POST", body }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 401, 401, 404]);
    for (const res of responses) {
      await res.text();
      const names = [...res.headers.keys()];
      expect(names.filter((n) => FORBIDDEN_RESPONSE_HEADERS.includes(n) || n.startsWith("x-ms-") || n.startsWith("cf-"))).toEqual([]);
    }
  });
});

describe("a canary secret never leaks", () => {
  it("190 requests carrying a canary (key, headers, body, signing headers; errors included): 0 hits in responses, logs, queue payloads or upstream headers", async () => {
    const canary = `CANARY-${crypto.randomUUID().replaceAll("-", "")}`;
    const k = await seedTenant({ key: { signature: "required" } });
    // Bad signatures go to their own key: 20 of them freeze a key, which would turn k's 200s into 403s.
    const badSigner = await seedTenant({ key: { signature: "required" } });
    const frozen = await seedTenant({ key: { signature: "required" } });
    await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(frozen.tenantId)).setKeyStatus(frozen.keyId, "frozen");
    const optional = await seedTenant();
    const revoked = await seedTenant({ key: { signature: "required", status: "revoked" } });
    const broken = await seedTenant();
    await env.CONFIG_KV.put(kvKeys.apiKeyByHash(await hashApiKey(broken.apiKey)), JSON.stringify({ id: 1 }));
    clearConfigCache();

    const logs: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")));
    }
    // Call-through spies: the real queues still receive every message; we keep a copy of each payload
    // (requests' events leave in per-isolate batches: sendBatch).
    const queued = [vi.spyOn(env.AUDIT_QUEUE, "sendBatch"), vi.spyOn(env.BILLING_QUEUE, "sendBatch")];
    const queuedBodies = () => queued.flatMap((s) => s.mock.calls.flatMap(([batch]) => [...batch].flatMap((m) => eventsOf(m.body) ?? [m.body])));
    const upstreamBefore = (await mockRequests(SCENARIO)).count;

    const post = (headers: Record<string, string>, body: string, url = CHAT) => SELF.fetch(url, { method: "POST", headers, body });
    const signedWith = async (body: string, extra: Record<string, string> = {}, key = k) => ({ ...(await signedInit(key, body)), ...extra });
    // `metadata` is no longer forwarded by default (it would be refused: 400), so the canary rides in `user`.
    const bodyWithCanary = chatBody({ user: canary });
    const variants: (() => Promise<Response>)[] = [
      () => post({ authorization: `Bearer ${canary}` }, chatBody()),
      () => post({ authorization: `Bearer gk_${canary}` }, chatBody()),
      () => post({ "x-api-key": canary }, chatBody()),
      () => post({ "content-type": "application/json" }, chatBody(), `${CHAT}?api_key=${canary}`),
      async () => post(await signedWith(chatBody(), { cookie: `session=${canary}`, "proxy-authorization": `Basic ${canary}`, "x-client-secret": canary, "openai-organization": canary }), chatBody()),
      async () => post(await signedWith(bodyWithCanary), bodyWithCanary),
      async () => post(await signedWith(chatBody({ stream: true }), { "x-client-secret": canary }), chatBody({ stream: true })),
      async () => post({ ...(await signedWith(chatBody(), {}, badSigner)), "X-Gateway-Signature": `v1=${canary}` }, chatBody()),
      async () => post({ ...(await signedWith(chatBody(), {}, badSigner)), "X-Gateway-Timestamp": canary }, chatBody()),
      async () => post({ ...(await signedWith(chatBody(), {}, badSigner)), "X-Gateway-Nonce": canary }, chatBody()),
      async () => post(await signedWith(`{"model":"mock-openai-chat","${canary}`), `{"model":"mock-openai-chat","${canary}`),
      async () => post(await signedWith(chatBody({ max_tokens: canary })), chatBody({ max_tokens: canary })),
      () => post({ authorization: `Bearer ${revoked.apiKey}`, "x-client-secret": canary }, chatBody()),
      async () => post(await signedWith(chatBody(), { "x-client-secret": canary }, frozen), chatBody()),
      () => post({ authorization: `Bearer ${broken.apiKey}`, "x-client-secret": canary }, chatBody()),
      () => post({ authorization: `Bearer ${optional.apiKey}`, cookie: `c=${canary}` }, chatBody()),
      () => post({ "x-api-key": canary, "anthropic-version": "2023-06-01" }, JSON.stringify({ model: "mock-anthropic-chat", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }), `${BASE}/messages`),
      () => post({ authorization: `Bearer ${canary}` }, chatBody(), "https://gw.test/internal/v1/chat/completions"),
      () => SELF.fetch(`${BASE}/models`, { headers: { authorization: `Bearer ${canary}` } }),
    ];

    const leaks: string[] = [];
    const auditedIds: string[] = [];
    const statuses: Record<string, number> = {};
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        variants.map(async (variant, i) => {
          const res = await variant();
          const text = await res.text();
          // Reads (GET /models) emit nothing; every other request is audited.
          if (i !== variants.length - 1) auditedIds.push(res.headers.get("x-gateway-request-id")!);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (text.includes(canary)) leaks.push(`response body of variant ${i}`);
          for (const [name, value] of res.headers) if (value.includes(canary) || name.includes(canary)) leaks.push(`response header ${name} of variant ${i}`);
        }),
      );
    }
    const sent = ROUNDS * variants.length;
    // Audit and billing are emitted after the response (waitUntil): wait until every audited request's
    // audit event has been sent (its billing event, if any, leaves before it).
    await waitUntil("every request's audit event", () => {
      const audited = new Set(queuedBodies().map((body) => (body as { request_id?: string; route?: string }).route && (body as { request_id: string }).request_id));
      const missing = auditedIds.filter((id) => !audited.has(id));
      return missing.length === 0 || `${missing.length} of ${auditedIds.length} missing`;
    });
    const payloads = queuedBodies().map((body) => JSON.stringify(body));
    const upstream = await mockRequests(SCENARIO);
    const upstreamHeaders = upstream.requests.slice(-Math.min(50, upstream.count - upstreamBefore)).map((r) => JSON.stringify(r.headers));
    vi.restoreAllMocks();

    console.log(`canary: ${sent} requests, statuses ${JSON.stringify(statuses)}, ${logs.length} log lines, ${payloads.length} queue payloads, ${upstream.count - upstreamBefore} upstream calls`);
    expect(sent).toBe(190);
    // Successes and each kind of refusal, per round: 4 x 200, 3 x 400 (query key, bad JSON, bad max_tokens),
    // 9 x 401, 2 x 403 (revoked, frozen), 1 x 503 (unreadable key record).
    expect(statuses).toEqual({ 200: 40, 400: 30, 401: 90, 403: 20, 503: 10 });
    // The spies saw the Worker's own logs (the broken key record is logged) and one audit record per pipeline request.
    expect(logs.some((l) => l.includes("config read failed"))).toBe(true);
    expect(payloads.length).toBeGreaterThanOrEqual(ROUNDS * 15);
    expect(leaks).toEqual([]);
    expect(logs.filter((l) => l.includes(canary))).toEqual([]);
    expect(payloads.filter((p) => p.includes(canary))).toEqual([]);
    expect(upstreamHeaders.filter((h) => h.includes(canary))).toEqual([]);
  }, 60_000);
});
