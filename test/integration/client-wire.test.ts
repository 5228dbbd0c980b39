// What the official clients read off a response: x-request-id (= x-gateway-request-id) on every
// response, `request-id` on the Anthropic routes, and Anthropic's error body and statuses on
// /messages and its siblings (streams included), mapped from the one error table.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { PresetItemSchema } from "../../src/config/schemas";
import { ERROR_KINDS, type ErrorKind } from "../../src/errors";
import { mockPresets, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

const SCENARIO = "client-wire";
const BROKEN = "client-wire-broken";
let tenant: SeededKey;
let service: { token: string };

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`https://gw.test${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

const message = (extra: Record<string, unknown> = {}) => ({ model: "mock-anthropic-chat", max_tokens: 64, messages: [{ role: "user", content: "wire" }], ...extra });
const anthropicHeaders = (key: string) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" });

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await mockScenario(BROKEN, { status: 500, error_message: "upstream broke" });
  const broken = mockPresets(BROKEN).map((p) => PresetItemSchema.parse({ ...p, id: `${p.id}-b`, model: `${p.model}-broken` }));
  // A candidate with no credential configured: the gateway has no upstream to call (503 no_available_upstream).
  const nocred = PresetItemSchema.parse({ ...mockPresets(SCENARIO)[1], id: "nocred", model: "mock-nocred", credential: "NO_SUCH_SECRET" });
  await seedPresets([...mockPresets(SCENARIO), ...broken, nocred]);
  tenant = await seedTenant();
  service = await seedService();
});

describe("request ids", () => {
  it("every response carries x-request-id equal to x-gateway-request-id, fresh per request", async () => {
    const responses = [
      await post("/external/v1/chat/completions", { model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${tenant.apiKey}` }),
      await post("/external/v1/chat/completions", "{not json", { authorization: `Bearer ${tenant.apiKey}` }),
      await post("/external/v1/messages", message(), anthropicHeaders(tenant.apiKey)),
      await SELF.fetch("https://gw.test/external/v1/models", { headers: { authorization: `Bearer ${tenant.apiKey}` } }),
      await SELF.fetch("https://gw.test/external/v1/models"),
      await SELF.fetch("https://gw.test/health"),
      await SELF.fetch("https://gw.test/admin/v1/tenants"),
      await SELF.fetch("https://gw.test/no/such/route"),
    ];
    const ids = new Set<string>();
    for (const res of responses) {
      await res.arrayBuffer();
      const id = res.headers.get("x-request-id");
      expect(id, `${res.url} ${res.status}`).toMatch(/^[0-9a-f]{32}$/);
      expect(res.headers.get("x-gateway-request-id")).toBe(id);
      expect(res.headers.get("x-trace-id")).toBeTruthy();
      ids.add(id!);
    }
    expect(ids.size).toBe(responses.length);
  });

  it("a client's own x-request-id sets the trace id only; the request id is the gateway's", async () => {
    const res = await post("/external/v1/chat/completions", { model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${tenant.apiKey}`, "x-request-id": "client-chosen-id-1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-trace-id")).toBe("client-chosen-id-1");
    expect(res.headers.get("x-request-id")).not.toBe("client-chosen-id-1");
    expect(res.headers.get("x-request-id")).toBe(res.headers.get("x-gateway-request-id"));
  });

  it("the Anthropic routes also carry request-id, on answers and errors alike", async () => {
    for (const res of [await post("/external/v1/messages", message(), anthropicHeaders(tenant.apiKey)), await post("/external/v1/messages", message(), {})]) {
      await res.arrayBuffer();
      expect(res.headers.get("request-id")).toBe(res.headers.get("x-gateway-request-id"));
    }
    expect((await post("/external/v1/chat/completions", {}, {})).headers.get("request-id")).toBeNull();
  });
});

async function anthropicError(res: Response) {
  const body = (await res.json()) as any;
  expect(Object.keys(body).sort()).toEqual(["error", "request_id", "type"]);
  expect(body.type).toBe("error");
  expect(body.request_id).toBe(res.headers.get("request-id"));
  expect(typeof body.error.message).toBe("string");
  return { status: res.status, type: body.error.type, code: body.error.details.error_code, body };
}

describe("Anthropic's error shape and statuses on the Anthropic routes", () => {
  it.each([
    ["no credential", () => post("/external/v1/messages", message(), {}), 401, "authentication_error", "missing_api_key"],
    ["a wrong key", () => post("/external/v1/messages", message(), anthropicHeaders("gk_wrong")), 401, "authentication_error", "invalid_api_key"],
    ["malformed JSON", () => post("/external/v1/messages", "{nope", anthropicHeaders(tenant.apiKey)), 400, "invalid_request_error", "invalid_json"],
    ["a body without max_tokens", () => post("/external/v1/messages", message({ max_tokens: undefined }), anthropicHeaders(tenant.apiKey)), 400, "invalid_request_error", "invalid_request"],
    ["an unknown model", () => post("/external/v1/messages", message({ model: "nope" }), anthropicHeaders(tenant.apiKey)), 404, "not_found_error", "model_not_found"],
    ["no upstream available (503)", () => post("/external/v1/messages", message({ model: "mock-nocred" }), anthropicHeaders(tenant.apiKey)), 529, "overloaded_error", undefined],
    ["an upstream failure (502)", () => post("/external/v1/messages", message({ model: "mock-anthropic-chat-broken" }), anthropicHeaders(tenant.apiKey)), 502, "api_error", "upstream_error"],
    ["an unknown sibling route", () => post("/external/v1/messages/batches", message(), anthropicHeaders(tenant.apiKey)), 404, "not_found_error", "not_found"],
    ["the internal channel, a wrong token", () => post("/internal/v1/messages", message(), { authorization: "Bearer gst_wrong" }), 401, "authentication_error", "invalid_service_token"],
  ] as const)("%s", async (_name, send, status, type, code) => {
    const got = await anthropicError(await send());
    expect(got).toMatchObject({ status, type, ...(code ? { code } : {}) });
    // Without a fixed code: one of the gateway's 503 kinds (src/errors.ts).
    if (!code) expect(ERROR_KINDS[got.code as ErrorKind].status).toBe(503);
  });

  it("the param of a validation error is in error.details", async () => {
    const { body } = await anthropicError(await post("/external/v1/messages", message({ max_tokens: "many" }), anthropicHeaders(tenant.apiKey)));
    expect(body.error.details.param).toBe("max_tokens");
  });

  it("limits and money: 429 rate_limit_error with Retry-After, 402 billing_error", async () => {
    const limited = await seedTenant({ key: { rate_limits: { requests_per_minute: 1 } } });
    expect((await post("/external/v1/messages", message(), anthropicHeaders(limited.apiKey))).status).toBe(200);
    const res = await post("/external/v1/messages", message(), anthropicHeaders(limited.apiKey));
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await anthropicError(res)).toMatchObject({ status: 429, type: "rate_limit_error", code: "rate_limit_exceeded" });
    const broke = await seedTenant({ balanceMicros: 0 });
    expect(await anthropicError(await post("/external/v1/messages", message(), anthropicHeaders(broke.apiKey)))).toMatchObject({ status: 402, type: "billing_error", code: "insufficient_balance" });
  });

  it("the OpenAI routes keep OpenAI's shape and statuses for the same failures", async () => {
    const res = await post("/external/v1/chat/completions", { model: "mock-nocred", messages: [{ role: "user", content: "x" }] }, { authorization: `Bearer ${tenant.apiKey}` });
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.error.type).toBe("api_error");
    expect(ERROR_KINDS[body.error.code as ErrorKind].status).toBe(503);
    expect(body.trace_id).toBe(res.headers.get("x-trace-id"));
  });

  it("a stream the upstream breaks ends with an Anthropic error event carrying the request id", async () => {
    await mockScenario(`${SCENARIO}-reset`, { fault: "reset_mid_stream", fault_after_chunks: 2 });
    await seedPresets([...mockPresets(SCENARIO), PresetItemSchema.parse({ ...mockPresets(`${SCENARIO}-reset`)[1], id: "reset", model: "mock-reset" })]);
    const res = await post("/internal/v1/messages", message({ model: "mock-reset", stream: true }), { authorization: `Bearer ${service.token}` });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    const last = events.at(-1)!;
    expect(last.event).toBe("error");
    const data = JSON.parse(last.data);
    expect(data).toMatchObject({ type: "error", error: { type: "api_error", details: { error_code: "upstream_error" } }, request_id: res.headers.get("request-id") });
    expect(events.some((e) => e.event === "message_stop")).toBe(false);
  });
});
