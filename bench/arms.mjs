// The arms of the benchmark and the request each one sends: the same chat completion, direct to the
// mock, through the bare passthrough Worker, through the body-reading floor Worker, and through the gateway's internal and external channels.
import { createSigner } from "./signing.mjs";

export const MOCK_API_KEY = "mock-upstream-key";
const MESSAGES = [{ role: "user", content: "Hello! Please write a short reply about latency." }];
const JSON_HEADERS = { "content-type": "application/json" };

export const ARM_LABELS = {
  direct: "direct to mock",
  bare: "bare passthrough Worker",
  floor: "body-reading floor Worker",
  internal: "gateway internal",
  external: "gateway external, signed (every step)",
  external_unsigned: "gateway external, unsigned key",
  direct_anthropic: "direct to mock (Anthropic format)",
  internal_anthropic: "gateway internal, Anthropic upstream",
};

/** Which process runs each arm's proxy (its CPU is charged to the arm); direct has none. */
export const ARM_RUNTIME = { direct: null, bare: "bare", floor: "floor", internal: "gateway", external: "gateway", external_unsigned: "gateway", direct_anthropic: null, internal_anthropic: "gateway" };

function openaiBody(model, stream) {
  return JSON.stringify(stream ? { model, messages: MESSAGES, stream: true, stream_options: { include_usage: true } } : { model, messages: MESSAGES });
}

/**
 * Targets per arm for one request kind ("json" or "stream"). `urls` has mock, bare and gateway origins;
 * `creds` comes from seedGateway (absent when the gateway is not running).
 */
export function targetsFor(kind, urls, creds) {
  const stream = kind === "stream";
  const body = openaiBody("mock-openai-chat", stream);
  const upstreamHeaders = { ...JSON_HEADERS, authorization: `Bearer ${MOCK_API_KEY}` };
  const targets = {
    direct: { url: urls.mock, path: "/v1/chat/completions", headers: upstreamHeaders, body },
    bare: { url: urls.bare, path: "/v1/chat/completions", headers: upstreamHeaders, body },
    floor: { url: urls.floor, path: "/v1/chat/completions", headers: upstreamHeaders, body },
  };
  if (urls.gateway && creds) {
    const externalPath = "/external/v1/chat/completions";
    const signer = createSigner({ key: creds.signed.key, secret: creds.signed.secret, path: externalPath, body });
    targets.internal = { url: urls.gateway, path: "/internal/v1/chat/completions", headers: { ...JSON_HEADERS, authorization: `Bearer ${creds.serviceToken}` }, body };
    targets.external = { url: urls.gateway, path: externalPath, headers: JSON_HEADERS, body, sign: () => signer.headers() };
    targets.external_unsigned = { url: urls.gateway, path: externalPath, headers: { ...JSON_HEADERS, authorization: `Bearer ${creds.unsigned.key}` }, body };
    if (stream) {
      targets.internal_anthropic = { ...targets.internal, body: openaiBody("mock-anthropic-chat", true) };
    }
  }
  if (stream) {
    targets.direct_anthropic = {
      url: urls.mock,
      path: "/v1/messages",
      headers: { ...JSON_HEADERS, "x-api-key": MOCK_API_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-mock", max_tokens: 1024, messages: MESSAGES, stream: true }),
    };
  }
  return targets;
}
