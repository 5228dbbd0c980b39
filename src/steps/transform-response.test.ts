// The buffered answer's headers: built on the request's own (trace ids, rate limits) with the content type
// and the upstream's informational headers, and taken back off when a later step fails the request.
import { Ending } from "../pipeline/ending";
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GatewayContext } from "../context";
import { PresetItemSchema } from "../config/schemas";
import { settingsOf } from "../env";
import { transformResponse } from "./transform-response";
import { dropAnswerHeaders } from "../api/answer-headers";

const target = PresetItemSchema.parse({ id: "t1", capability: "chat", model: "gpt-x", provider: "openai", base_url: "https://up.example/v1" });
const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "upstream-name",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

function answeredContext(): GatewayContext {
  const body = { model: "gpt-x", messages: [{ role: "user" as const, content: "hello" }] };
  return {
    traceId: "trace-1",
    requestId: "req-1",
    channel: "internal",
    ingress: "openai",
    capability: "chat",
    env,
    settings: settingsOf(env),
    exec: createExecutionContext(),
    request: new Request("https://gw.test/internal/v1/chat/completions", { method: "POST" }),
    rawBody: new Uint8Array(0),
    clientIp: null,
    region: null,
    receivedAt: Date.now(),
    responseHeaders: new Headers({ "x-trace-id": "trace-1", "x-ratelimit-limit-requests": "10" }),
    flags: new Set(),
    steps: [],
    attempts: [],
    ending: new Ending(),
    parsed: { capability: "chat", model: "gpt-x", stream: false, body },
    upstream: {
      target,
      status: 200,
      headers: new Headers({ "x-request-id": "up-7", "openai-processing-ms": "12", server: "upstream-box" }),
      bytes: new TextEncoder().encode(JSON.stringify(completion)),
      latencyMs: 0,
    },
  };
}

describe("transform_response headers", () => {
  it("builds the answer's headers on the request's own, forwarding only the informational upstream ones", () => {
    const ctx = answeredContext();
    expect(transformResponse.run(ctx)).toBeUndefined();
    const headers = ctx.response!.headers;
    expect(headers).toBe(ctx.responseHeaders);
    expect(Object.fromEntries(headers)).toEqual({
      "content-type": "application/json",
      "openai-processing-ms": "12",
      "x-ratelimit-limit-requests": "10",
      "x-trace-id": "trace-1",
      "x-upstream-request-id": "up-7",
    });
    expect((ctx.response!.json as { model: string }).model).toBe("gpt-x");
  });

  it("takes them back off for an error answer, leaving the request's own", () => {
    const ctx = answeredContext();
    transformResponse.run(ctx);
    dropAnswerHeaders(ctx.responseHeaders);
    expect(Object.fromEntries(ctx.responseHeaders)).toEqual({ "x-ratelimit-limit-requests": "10", "x-trace-id": "trace-1" });
  });
});
