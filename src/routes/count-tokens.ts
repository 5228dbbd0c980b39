// POST /messages/count_tokens (both channels): Anthropic's token counting, `{"input_tokens": N}`. Exact
// where the model is served by an Anthropic upstream, which counts the very body the gateway would send
// it for /messages; otherwise, or when that upstream cannot answer, the gateway's own tokenizer's
// estimate. `x-gateway-token-count` says which (`exact` | `estimated`). Free: nothing is reserved or billed.
import type { Context, Handler } from "hono";
import type { AppEnv } from "../app-env";
import type { ChatCompletionRequest } from "../api/openai-schemas";
import type { PresetItem } from "../config/schemas";
import type { Channel, Principal } from "../context";
import { settingsOf, type Env, type Settings } from "../env";
import { err, errorResponse, fail, ok, type GatewayFailure, type Result } from "../errors";
import { countTokens, promptText } from "../billing/tokens";
import { AnthropicMessagesRequestSchema, anthropicRequestToOpenAI } from "../providers/anthropic-ingress";
import { adapterFor } from "../providers";
import { allowedIn, catalogFor, servingModel } from "../routing/catalog";
import { breakerBlocks } from "../upstream/breaker";
import { readBodyLimited } from "../upstream/read-limited";
import { authenticateTenantRead } from "../auth/middleware";
import { corsAnswerHeaders } from "../cors/cors-headers";
import { crossOrigin } from "../cors/origin-patterns";
import { credentialFor, egressVerdict } from "../upstream/target-access";

/** The counting request: a Messages request without the fields that only shape the answer. */
export const CountTokensRequestSchema = AnthropicMessagesRequestSchema.omit({ max_tokens: true, stream: true, stop_sequences: true, temperature: true, top_p: true, top_k: true, metadata: true });

const COUNT_TIMEOUT_MS = 5_000;
const COUNT_BODY_LIMIT = 64 * 1024;
/** Tokens OpenAI documents per chat message for its framing: the estimate adds it per message, and per tool. */
const PER_MESSAGE_TOKENS = 4;
const decoder = new TextDecoder();

async function readCountRequest(request: Request, settings: Settings): Promise<Result<Uint8Array>> {
  const read = await readBodyLimited(request, settings.maxRequestBytes);
  if (read.ok) return ok(read.bytes);
  return err(read.reason === "too_large" ? fail("request_too_large", `Request body exceeds ${settings.maxRequestBytes} bytes.`) : fail("invalid_request", "Request body could not be read."));
}

function parseCountRequest(raw: Uint8Array): Result<ChatCompletionRequest> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(raw));
  } catch {
    return err(fail("invalid_json", "request body is not valid JSON"));
  }
  const parsed = CountTokensRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.length > 0 ? issue.path.map(String).join(".") : null;
    return err(fail("invalid_request", param ? `${param}: ${issue.message}` : issue.message, { param }));
  }
  // The gateway's own form of the request, as /messages carries it to any upstream (max_tokens shapes no input).
  return ok(anthropicRequestToOpenAI({ ...parsed.data, max_tokens: 1 }));
}

/** The candidates serving the model that this caller may use, lowest priority number first. */
async function candidatesFor(env: Env, principal: Principal, channel: Channel, model: string): Promise<Result<PresetItem[]>> {
  const catalog = await catalogFor(env, principal, channel);
  if (!catalog.ok) return catalog;
  const matches = servingModel(catalog.value, model, "chat");
  if (matches.length === 0) return err(fail("model_not_found", `The model '${model}' does not exist or is not available on this channel`, { param: "model" }));
  const allowed = matches.filter((m) => allowedIn(catalog.value, m));
  if (allowed.length === 0) return err(fail("scope_denied", `This credential may not use the model '${model}'`, { param: "model" }));
  return ok([...allowed].sort((a, b) => a.priority - b.priority));
}

/** Asks an Anthropic upstream to count the body the gateway would send it; undefined when it cannot. */
async function upstreamCount(env: Env, settings: Settings, target: PresetItem, body: ChatCompletionRequest, traceId: string): Promise<number | undefined> {
  const request = adapterFor("anthropic").buildChatRequest(body, target, { stream: false });
  if (!request.ok) return undefined;
  const built = request.value;
  const url = `${built.url}/count_tokens`;
  const egress = egressVerdict(url, target, settings);
  if (!egress.ok) return undefined;
  const headers: Record<string, string> = { ...built.headers, "x-request-id": traceId };
  if (credentialFor(env, settings, target, headers, traceId)) return undefined;
  // Only what Anthropic's counting endpoint takes.
  const { model, system, messages, tools, tool_choice } = JSON.parse(built.body!) as Record<string, unknown>;
  try {
    const res = await fetch(egress.value, {
      method: "POST",
      headers,
      body: JSON.stringify({ model, system, messages, tools, tool_choice }),
      redirect: "manual",
      signal: AbortSignal.timeout(COUNT_TIMEOUT_MS),
    });
    const read = await readBodyLimited(res, COUNT_BODY_LIMIT);
    if (!res.ok || !read.ok) return undefined;
    const answer = JSON.parse(decoder.decode(read.bytes)) as { input_tokens?: unknown };
    return Number.isSafeInteger(answer.input_tokens) && (answer.input_tokens as number) >= 0 ? (answer.input_tokens as number) : undefined;
  } catch {
    return undefined;
  }
}

/** The gateway tokenizer's count (cl100k_base) of the prompt text and tool definitions, plus framing per message and tool. */
async function estimate(body: ChatCompletionRequest): Promise<number> {
  const tools = body.tools ?? [];
  const text = [promptText(body), ...tools.map((t) => JSON.stringify(t))].join("\n");
  return (await countTokens(text)) + PER_MESSAGE_TOKENS * (body.messages.length + tools.length);
}

async function countTokensFor(c: Context<AppEnv>, channel: Channel, raw: Uint8Array): Promise<Response> {
  const traceId = c.get("traceId");
  const body = parseCountRequest(raw);
  if (!body.ok) return answerFailure(c, body.failure);
  const candidates = await candidatesFor(c.env, c.get("principal"), channel, body.value.model);
  if (!candidates.ok) return answerFailure(c, candidates.failure);
  const settings = settingsOf(c.env);
  const counter = candidates.value.find((t) => t.provider === "anthropic" && !breakerBlocks(t.id));
  const exact = counter ? await upstreamCount(c.env, settings, counter, body.value, traceId) : undefined;
  const inputTokens = exact ?? (await estimate(body.value));
  return c.json({ input_tokens: inputTokens }, 200, { "x-gateway-token-count": exact === undefined ? "estimated" : "exact", "x-trace-id": traceId });
}

const answerFailure = (c: Context<AppEnv>, failure: GatewayFailure) => errorResponse(failure, c.get("traceId"), undefined, c.get("errorWire"));

/**
 * The route's handler. External: the body is read first, since a signed request's signature covers it,
 * then the key is checked as on any read (allowlists, signature, freeze, ban, nonce; a browser origin
 * the key allows gets the CORS headers). Internal: serviceAuth() ran before it.
 */
export function countTokensHandler(channel: Channel): Handler<AppEnv> {
  return async function countTokens(c) {
    const raw = await readCountRequest(c.req.raw, settingsOf(c.env));
    if (!raw.ok) return answerFailure(c, raw.failure);
    if (channel === "internal") return countTokensFor(c, channel, raw.value);
    const auth = await authenticateTenantRead(c.req.raw, c.env, c.executionCtx, raw.value);
    if (!auth.ok) return answerFailure(c, auth.failure);
    c.set("principal", auth.value);
    const res = await countTokensFor(c, channel, raw.value);
    const origin = crossOrigin(c.req.raw);
    if (origin !== null) for (const [name, value] of Object.entries(corsAnswerHeaders(origin))) res.headers.set(name, value);
    return res;
  };
}
