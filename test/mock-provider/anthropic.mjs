// Anthropic Messages API wire format: JSON replies, the SSE event sequence, models and error bodies.
import { ID, fillerText, makePlan, promptTokens, reportedUsage, textOf } from "./content.mjs";

/** @typedef {import("./content.mjs").Plan} Plan */
/** @typedef {import("./faults.mjs").Rendered} Rendered */

const MODELS = [
  ["claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"],
  ["claude-haiku-4-5-20251001", "Claude Haiku 4.5"],
  ["claude-opus-4-1-20250805", "Claude Opus 4.1"],
];
const CONTENT_SENTINEL = "__MOCK_CONTENT__";

/** @param {number} status */
function errorType(status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** Anthropic's error body `{ type: "error", error: { type, message } }`. @param {number} status @param {string} message */
export function anthropicError(status, message) {
  return JSON.stringify({ type: "error", error: { type: errorType(status), message } });
}

export function anthropicModels() {
  const data = MODELS.map(([id, display_name]) => ({ type: "model", id, display_name, created_at: "2025-01-01T00:00:00Z" }));
  return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
}

/** @param {unknown} content */
const isToolResult = (content) => Array.isArray(content) && content.some((b) => b?.type === "tool_result");

/** @param {Plan} plan */
function stopReason(plan) {
  if (plan.kind === "tool") return "tool_use";
  return plan.truncated ? "max_tokens" : "end_turn";
}

/** @param {string} message */
const invalid = (message) => ({ status: 400, error: anthropicError(400, message) });

/**
 * Validates a Messages request and renders the whole answer (cached by the caller per body).
 * @param {any} body parsed JSON @param {Record<string, any>} settings
 * @returns {Rendered | { status: number, error: string }}
 */
export function renderMessages(body, settings) {
  if (!body || typeof body !== "object" || Array.isArray(body)) return invalid("The request body must be a JSON object.");
  if (typeof body.model !== "string") return invalid("model: Field required");
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return invalid("max_tokens: Field required");
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) return invalid("messages: Field required");
  const last = msgs[msgs.length - 1];
  const tools = Array.isArray(body.tools) ? body.tools.map((t) => t?.name).filter((n) => typeof n === "string") : [];
  const tc = body.tool_choice;
  const plan = makePlan({
    lastText: textOf(last?.content),
    lastIsUser: last?.role === "user" && !isToolResult(last?.content),
    tools,
    forcedTool: tc?.type === "tool" && typeof tc.name === "string" ? tc.name : null,
    toolChoiceNone: tc?.type === "none",
    maxTokens: body.max_tokens,
    promptTokens: promptTokens(msgs, body.system),
  }, settings);
  const noUsage = settings.fault === "no_usage";
  // Anthropic's service_tier request values are "auto" / "standard_only"; the tier served comes from the setting.
  const reported = reportedUsage(plan, settings, {});
  return body.stream === true ? messagesStream(plan, reported, body.model, noUsage) : messagesJson(plan, reported, body.model, noUsage);
}

/**
 * POST /v1/messages/count_tokens: the `input_tokens` the same body would report in a Messages answer.
 * @param {string} raw @returns {{ status: number, body: string }}
 */
export function countMessageTokens(raw) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return { status: 400, body: anthropicError(400, "The request body is not valid JSON.") };
  }
  if (!body || typeof body !== "object" || typeof body.model !== "string") return { status: 400, body: anthropicError(400, "model: Field required") };
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { status: 400, body: anthropicError(400, "messages: Field required") };
  return { status: 200, body: JSON.stringify({ input_tokens: promptTokens(body.messages, body.system) }) };
}

/**
 * Anthropic counts cache reads and writes apart from input_tokens, and reasoning (thinking) inside output_tokens.
 * @param {ReturnType<typeof reportedUsage>} r @param {number} [outputTokens]
 */
function usage(r, outputTokens = r.completionTokens) {
  /** @type {Record<string, unknown>} */
  const out = {
    input_tokens: r.promptTokens - r.cachedTokens,
    cache_creation_input_tokens: r.cacheCreationTokens,
    cache_read_input_tokens: r.cachedTokens,
    output_tokens: outputTokens,
    service_tier: r.serviceTier ?? "standard",
  };
  if (r.webSearchRequests > 0) out.server_tool_use = { web_search_requests: r.webSearchRequests };
  return out;
}

/** @param {Plan} plan @param {ReturnType<typeof reportedUsage>} reported @param {string} model @param {boolean} noUsage @returns {Rendered} */
function messagesJson(plan, reported, model, noUsage) {
  /** @param {string} text */
  const bodyWith = (text) => {
    const content = plan.kind === "tool"
      ? [{ type: "tool_use", id: `toolu_${ID}`, name: plan.toolName, input: JSON.parse(plan.text) }]
      : [{ type: "text", text }];
    /** @type {Record<string, unknown>} */
    const out = { id: `msg_${ID}`, type: "message", role: "assistant", model, content, stop_reason: stopReason(plan), stop_sequence: null };
    if (!noUsage) out.usage = usage(reported);
    return JSON.stringify(out);
  };
  const body = bodyWith(plan.text);
  return {
    status: 200, stream: false, contentType: "application/json", body, pre: [], chunks: [], post: [],
    frame: () => "", garbage: body.slice(0, Math.floor(body.length / 2)),
    around: () => {
      const [head = "", tail = ""] = bodyWith(CONTENT_SENTINEL).split(CONTENT_SENTINEL);
      return { head, tail, fill: fillerText };
    },
  };
}

/** @param {string} event @param {unknown} data */
const sse = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** @param {Plan} plan @param {ReturnType<typeof reportedUsage>} reported @param {string} model @param {boolean} noUsage @returns {Rendered} */
function messagesStream(plan, reported, model, noUsage) {
  /** @type {Record<string, unknown>} */
  const message = { id: `msg_${ID}`, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null };
  // Like the real API, message_start reports a placeholder output count and no server tool use yet (the
  // searches run during the turn); message_delta has the final output count and the searches made.
  if (!noUsage) {
    const { server_tool_use: _searches, ...atStart } = usage(reported, 1);
    message.usage = atStart;
  }
  const block = plan.kind === "tool"
    ? { type: "tool_use", id: `toolu_${ID}`, name: plan.toolName, input: {} }
    : { type: "text", text: "" };
  const pre = [
    sse("message_start", { type: "message_start", message }),
    sse("content_block_start", { type: "content_block_start", index: 0, content_block: block }),
    sse("ping", { type: "ping" }),
  ];
  /** @type {(text: string) => string} */
  const frame = plan.kind === "tool"
    ? (text) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: text } })
    : (text) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
  /** @type {Record<string, unknown>} */
  const delta = { type: "message_delta", delta: { stop_reason: stopReason(plan), stop_sequence: null } };
  if (!noUsage) {
    /** @type {Record<string, unknown>} */
    const final = { output_tokens: reported.completionTokens };
    if (reported.webSearchRequests > 0) final.server_tool_use = { web_search_requests: reported.webSearchRequests };
    delta.usage = final;
  }
  const post = [
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("message_delta", delta),
    sse("message_stop", { type: "message_stop" }),
  ];
  const chunks = plan.pieces.map(frame);
  return {
    status: 200, stream: true, contentType: "text/event-stream; charset=utf-8",
    body: pre.join("") + chunks.join("") + post.join(""), pre, chunks, post, frame,
    garbage: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n: \u0000\u0001 not an event\nthis line has no field name\n\n',
    around: () => ({ head: "", tail: "", fill: fillerText }),
  };
}
