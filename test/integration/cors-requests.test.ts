// CORS on the external channel through the real Worker: preflights answered only for origins some key
// allows, alike whichever key that is; answers to an allowed origin readable by the page (origin,
// exposed request-id and rate-limit headers), errors after authentication included; refusals unreadable.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockScenario, seedPresets } from "../fixtures/seed";
import { admin, call, createKey, createTenant } from "./admin-helpers";

const SCENARIO = "cors-requests";
// What the openai client sends from a browser, and what the Anthropic client adds.
const SDK_HEADERS = "authorization, content-type, x-stainless-os, x-stainless-lang, x-stainless-package-version, x-stainless-runtime, x-stainless-runtime-version, x-stainless-arch, x-stainless-retry-count, x-stainless-timeout, idempotency-key";
const ANTHROPIC_HEADERS = "x-api-key, anthropic-version, anthropic-dangerous-direct-browser-access, content-type, x-stainless-lang";

let keyA: { key: string; id: string; tenant: string };
let keyB: { key: string; id: string; tenant: string };

function preflight(path: string, origin: string, method = "POST", headers = SDK_HEADERS) {
  return SELF.fetch(`https://gw.test${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });
}

function chat(key: string, origin: string | undefined, model = "mock-openai-chat") {
  return SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(origin ? { origin } : {}) },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "from a page" }] }),
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  const make = async (name: string, origins: string[]) => {
    const tenant = (await createTenant({ name })).id;
    await admin("POST", `/tenants/${tenant}/credits`, { amount_micros: 10_000_000, idempotency_key: `fund-${tenant}` });
    const key = await createKey(tenant, { signature: "optional", allowed_origins: origins, rate_limits: { requests_per_minute: 1000 } });
    return { key: key.key, id: key.id, tenant };
  };
  keyA = await make("Tenant A", ["https://app.a-corp.com"]);
  keyB = await make("Tenant B", ["https://*.b-corp.io"]);
});

describe("preflight (OPTIONS)", () => {
  it("an origin some key allows gets the SDKs' methods and headers and a max-age", async () => {
    for (const origin of ["https://app.a-corp.com", "https://x.b-corp.io", "https://deep.x.b-corp.io"]) {
      const res = await preflight("/external/v1/chat/completions", origin);
      expect(res.status, origin).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      expect(res.headers.get("access-control-allow-headers")).toBe(SDK_HEADERS);
      expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThanOrEqual(600);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
    const anthropic = await preflight("/external/v1/messages", "https://app.a-corp.com", "POST", ANTHROPIC_HEADERS);
    expect(anthropic.status).toBe(204);
    expect(anthropic.headers.get("access-control-allow-headers")).toBe(ANTHROPIC_HEADERS);
  });

  it("any other origin is refused without CORS headers", async () => {
    for (const origin of ["https://evil.example", "https://a-corp.com", "http://app.a-corp.com", "https://b-corp.io", "null"]) {
      const res = await preflight("/external/v1/chat/completions", origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("a header or method outside what the SDKs send is refused", async () => {
    expect((await preflight("/external/v1/chat/completions", "https://app.a-corp.com", "POST", "authorization, x-forwarded-host")).status).toBe(403);
    expect((await preflight("/external/v1/chat/completions", "https://app.a-corp.com", "PUT")).status).toBe(403);
  });

  it("reveals nothing about keys: answers for origins of different tenants' keys differ only in the origin", async () => {
    const shape = async (origin: string) => {
      const res = await preflight("/external/v1/chat/completions", origin);
      const headers = [...res.headers].filter(([name]) => !["x-request-id", "x-gateway-request-id", "x-trace-id"].includes(name));
      return { status: res.status, headers: headers.map(([n, v]) => [n, v.replace(origin, "<origin>")]), body: await res.text() };
    };
    const a = await shape("https://app.a-corp.com");
    expect(await shape("https://x.b-corp.io")).toEqual(a);
    const text = JSON.stringify(a);
    for (const secret of [keyA.id, keyA.tenant, keyB.id, keyB.tenant, "a-corp", "ten_", "key_"]) expect(text).not.toContain(secret);
  });

  it("the internal channel answers no preflight", async () => {
    const res = await preflight("/internal/v1/chat/completions", "https://app.a-corp.com");
    expect(res.status).toBe(404);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a key's origin leaves the index when the key loses it or is revoked", async () => {
    const tenant = (await createTenant({ name: "Tenant C" })).id;
    const key = await createKey(tenant, { allowed_origins: ["https://c-corp.dev"] });
    expect((await preflight("/external/v1/models", "https://c-corp.dev", "GET", "authorization")).status).toBe(204);
    await admin("PATCH", `/tenants/${tenant}/keys/${key.id}`, { allowed_origins: ["https://other.c-corp.dev"] });
    expect((await preflight("/external/v1/models", "https://c-corp.dev", "GET", "authorization")).status).toBe(403);
    expect((await preflight("/external/v1/models", "https://other.c-corp.dev", "GET", "authorization")).status).toBe(204);
    await admin("POST", `/tenants/${tenant}/keys/${key.id}/revoke`);
    expect((await preflight("/external/v1/models", "https://other.c-corp.dev", "GET", "authorization")).status).toBe(403);
  });
});

describe("answers to browser requests", () => {
  it("an allowed origin reads the answer: its origin, and the request-id and rate-limit headers exposed", async () => {
    const res = await chat(keyA.key, "https://app.a-corp.com");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.a-corp.com");
    const exposed = res.headers.get("access-control-expose-headers")!.split(", ");
    expect(exposed).toEqual(expect.arrayContaining(["x-request-id", "request-id", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", "retry-after"]));
    expect(res.headers.get("x-ratelimit-remaining-requests")).toBeTruthy();
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("errors after authentication are readable too (the client's typed errors and retries need them)", async () => {
    const res = await chat(keyA.key, "https://app.a-corp.com", "no-such-model");
    expect(res.status).toBe(404);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.a-corp.com");
    const models = await call("GET", "/external/v1/models", { token: keyB.key, headers: { origin: "https://x.b-corp.io" } });
    expect(models.status).toBe(200);
    expect(models.headers.get("access-control-allow-origin")).toBe("https://x.b-corp.io");
  });

  it("another tenant's origin is refused with this key, unreadable by the page", async () => {
    const res = await chat(keyA.key, "https://x.b-corp.io");
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error.code).toBe("origin_not_allowed");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("requests without Origin (servers, SDKs outside browsers) carry no CORS headers", async () => {
    const res = await chat(keyA.key, undefined);
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
