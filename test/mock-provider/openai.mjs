// OpenAI and Azure OpenAI wire formats: chat completions (JSON and SSE), embeddings, models, errors.
import {
  CREATED, ID, embeddingInputs, embeddingTokens, embeddingVector, fillerText, makePlan, promptTokens, reportedUsage, textOf,
} from "./content.mjs";

/** @typedef {import("./content.mjs").Plan} Plan */
/** @typedef {import("./faults.mjs").Rendered} Rendered */

const MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small", "text-embedding-3-large"];
const SAFE = { filtered: false, severity: "safe" };
const FILTERS = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTERS = [{ prompt_index: 0, content_filter_results: { ...FILTERS, jailbreak: { filtered: false, detected: false } } }];
const CONTENT_SENTINEL = "__MOCK_CONTENT__";

/** @param {number} status */
function errorType(status) {
  if (status === 401 || status === 403 || status === 404 || status < 429) return "invalid_request_error";
  if (status === 429) return "requests";
  return "server_error";
}

/** @param {number} status */
function errorCode(status) {
  if (status === 401) return "invalid_api_key";
  if (status === 429) return "rate_limit_exceeded";
  return null;
}

/**
 * OpenAI's error body `{ error: { message, type, param, code } }`; Azure's is `{ error: { code, message } }`.
 * @param {number} status @param {string} message
 * @param {{ azure?: boolean, param?: string | null, code?: string | null }} [opts]
 */
export function openaiError(status, message, opts = {}) {
  if (opts.azure) return JSON.stringify({ error: { code: opts.code ?? String(status), message } });
  const code = opts.code === undefined ? errorCode(status) : opts.code;
  return JSON.stringify({ error: { message, type: errorType(status), param: opts.param ?? null, code } });
}

export function openaiModels() {
  return JSON.stringify({ object: "list", data: MODELS.map((id) => ({ id, object: "model", created: CREATED, owned_by: "openai" })) });
}

/** @param {string} id */
export function openaiModel(id) {
  return MODELS.includes(id) ? JSON.stringify({ id, object: "model", created: CREATED, owned_by: "openai" }) : null;
}

/** @typedef {ReturnType<typeof reportedUsage>} Reported */

/** @param {Reported} r */
function usage(r) {
  return {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
    prompt_tokens_details: { cached_tokens: r.cachedTokens, audio_tokens: r.audioPromptTokens },
    completion_tokens_details: { reasoning_tokens: r.reasoningTokens, audio_tokens: r.audioCompletionTokens, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** @param {Plan} plan */
function finishReason(plan) {
  if (plan.kind === "tool") return "tool_calls";
  return plan.truncated ? "length" : "stop";
}

/** @param {any} body */
function toolNames(body) {
  if (!Array.isArray(body.tools)) return [];
  return body.tools.map((t) => t?.function?.name ?? t?.name).filter((n) => typeof n === "string");
}

/**
 * Validates a chat request and renders the whole answer (cached by the caller per body).
 * @param {any} body parsed JSON @param {{ azure: boolean, deployment: string }} route
 * @param {Record<string, any>} settings
 * @returns {Rendered | { status: number, error: string }}
 */
export function renderChat(body, route, settings) {
  const azure = route.azure;
  if (!body || typeof body !== "object" || Array.isArray(body)) return { status: 400, error: openaiError(400, "The request body must be a JSON object.", { azure }) };
  if (!azure && typeof body.model !== "string") return { status: 400, error: openaiError(400, "you must provide a model parameter") };
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) {
    return { status: 400, error: openaiError(400, "Missing required parameter: 'messages'.", { azure, param: "messages", code: "missing_required_parameter" }) };
  }
  const last = msgs[msgs.length - 1];
  const tc = body.tool_choice;
  const plan = makePlan({
    lastText: textOf(last?.content),
    lastIsUser: last?.role === "user",
    tools: toolNames(body),
    forcedTool: typeof tc === "object" && tc && typeof tc.function?.name === "string" ? tc.function.name : null,
    toolChoiceNone: tc === "none",
    maxTokens: body.max_completion_tokens ?? body.max_tokens,
    promptTokens: promptTokens(msgs),
  }, settings);
  const model = azure ? route.deployment : body.model;
  const noUsage = settings.fault === "no_usage";
  const reported = reportedUsage(plan, settings, body);
  return body.stream === true
    ? chatStream(plan, reported, model, azure, body.stream_options?.include_usage === true && !noUsage)
    : chatJson(plan, reported, model, azure, noUsage);
}

/** @param {Plan} plan @param {Reported} reported @param {string} model @param {boolean} azure @param {boolean} noUsage @returns {Rendered} */
function chatJson(plan, reported, model, azure, noUsage) {
  /** @param {string} content */
  const bodyWith = (content) => {
    const message = plan.kind === "tool"
      ? { role: "assistant", content: null, tool_calls: [{ id: `call_${ID}`, type: "function", function: { name: plan.toolName, arguments: plan.text } }], refusal: null, annotations: [] }
      : { role: "assistant", content, refusal: null, annotations: [] };
    /** @type {Record<string, unknown>} */
    const choice = { index: 0, message, logprobs: null, finish_reason: finishReason(plan) };
    if (azure) choice.content_filter_results = FILTERS;
    /** @type {Record<string, unknown>} */
    const out = { id: `chatcmpl-${ID}`, object: "chat.completion", created: CREATED, model, choices: [choice] };
    if (!noUsage) out.usage = usage(reported);
    if (azure) out.prompt_filter_results = PROMPT_FILTERS;
    out.service_tier = reported.serviceTier ?? "default";
    out.system_fingerprint = "fp_mock";
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

/** @param {unknown} obj */
const sse = (obj) => `data: ${JSON.stringify(obj)}\n\n`;

/** @param {Plan} plan @param {Reported} reported @param {string} model @param {boolean} azure @param {boolean} includeUsage @returns {Rendered} */
function chatStream(plan, reported, model, azure, includeUsage) {
  const base = { id: `chatcmpl-${ID}`, object: "chat.completion.chunk", created: CREATED, model, service_tier: reported.serviceTier ?? "default", system_fingerprint: "fp_mock" };
  /** @param {Record<string, unknown>} delta @param {string | null} finish */
  const chunk = (delta, finish) => {
    /** @type {Record<string, unknown>} */
    const choice = { index: 0, delta, logprobs: null, finish_reason: finish };
    if (azure) choice.content_filter_results = finish === null && !("role" in delta) ? FILTERS : {};
    return sse(includeUsage ? { ...base, choices: [choice], usage: null } : { ...base, choices: [choice] });
  };
  /** @type {string[]} */
  const pre = [];
  if (azure) pre.push(sse({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: PROMPT_FILTERS }));
  /** @type {(text: string) => string} */
  let frame;
  if (plan.kind === "tool") {
    const call = { index: 0, id: `call_${ID}`, type: "function", function: { name: plan.toolName, arguments: "" } };
    pre.push(chunk({ role: "assistant", content: null, tool_calls: [call], refusal: null }, null));
    frame = (text) => chunk({ tool_calls: [{ index: 0, function: { arguments: text } }] }, null);
  } else {
    pre.push(chunk({ role: "assistant", content: "", refusal: null }, null));
    frame = (text) => chunk({ content: text }, null);
  }
  const post = [chunk({}, finishReason(plan))];
  if (includeUsage) post.push(sse({ ...base, choices: [], usage: usage(reported) }));
  post.push("data: [DONE]\n\n");
  const chunks = plan.pieces.map(frame);
  return {
    status: 200, stream: true, contentType: "text/event-stream; charset=utf-8",
    body: pre.join("") + chunks.join("") + post.join(""), pre, chunks, post, frame,
    garbage: 'data: {"id":"chatcmpl-broken","choices":[{"delta":{"content":"unterminated\n\n: \u0000\u0001 not an event\nthis line has no field name\n\n',
    around: () => ({ head: "", tail: "", fill: fillerText }),
  };
}

/**
 * @param {any} body @param {{ azure: boolean, deployment: string }} route @param {Record<string, any>} settings
 * @returns {Rendered | { status: number, error: string }}
 */
export function renderEmbeddings(body, route, settings) {
  const azure = route.azure;
  if (!body || typeof body !== "object") return { status: 400, error: openaiError(400, "The request body must be a JSON object.", { azure }) };
  if (!azure && typeof body.model !== "string") return { status: 400, error: openaiError(400, "you must provide a model parameter") };
  const inputs = embeddingInputs(body.input);
  if (!inputs) return { status: 400, error: openaiError(400, "'input' must be a string, an array of strings or an array of token arrays.", { azure, param: "input", code: null }) };
  const dims = Number.isInteger(body.dimensions) && body.dimensions > 0 && body.dimensions <= 4096 ? body.dimensions : 8;
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((input, index) => {
    const v = embeddingVector(input, dims);
    const embedding = base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v);
    return { object: "embedding", index, embedding };
  });
  const tokens = embeddingTokens(inputs);
  /** @type {Record<string, unknown>} */
  const out = { object: "list", data, model: azure ? route.deployment : body.model };
  if (settings.fault !== "no_usage") out.usage = { prompt_tokens: tokens, total_tokens: tokens };
  const json = JSON.stringify(out);
  return {
    status: 200, stream: false, contentType: "application/json", body: json, pre: [], chunks: [], post: [],
    frame: () => "", garbage: json.slice(0, Math.floor(json.length / 2)),
    around: () => ({ head: `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0`, tail: "]}]}", fill: zeros }),
  };
}

/** Filler that keeps an oversized embeddings body valid JSON: ",0" repeated. @param {number} bytes */
const zeros = (bytes) => ",0".repeat(Math.ceil(bytes / 2));
