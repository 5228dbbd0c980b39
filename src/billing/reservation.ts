// The reservation of a request: the most its upstream can charge for what the gateway sends, held from the
// balance, the quotas and tokens per minute until settlement (docs/api/reservations.md). Input: every part
// of the request the upstream reads (messages of every role, tool definitions, tool-call arguments, tool
// results, response formats, parts of types the gateway does not know) counted as text; images at the
// preset's per-image price. Output: the cap actually sent upstream (output-cap.ts), once per choice (`n`).
// Every token at the dearest price its side can be billed at; plus the per-request price and forwarded searches. Priced at the most expensive candidate, since a fallback may serve it.
import type { ChatCompletionRequest, EmbeddingsRequest } from "../api/openai-schemas";
import type { PresetItem, Pricing } from "../config/schemas";
import { forwardedExtras } from "../providers/request-fields";
import type { ParsedRequest } from "../context";
import { outputCap } from "../providers/output-cap";
import { costMicros } from "./pricing";
import type { PromptCount } from "./prompt-count";
import { countTokensInPieces } from "./tokens";

/**
 * Below this many UTF-8 bytes, the bytes are the bound: no tokenizer makes more than one token of a byte,
 * it is at most a few hundred tokens above the count, and small requests never load the rank table.
 */
export const SMALL_TEXT_BYTES = 2_048;
/** cl100k_base counts are raised by this much: other providers' tokenizers split text up to a quarter finer. */
export const TOKENIZER_MARGIN = 1.25;
/** Tool use costs a system prompt of its own at some providers (Anthropic: about 350 tokens). */
export const TOOL_USE_TOKENS = 500;
/** An image without a per-image price reserves its bytes as input tokens, never less than this (Anthropic's largest image is about 1,600 tokens). */
export const MIN_IMAGE_TOKENS = 1_600;

const encoder = new TextEncoder();

/** Upper bound of the tokens of `text` at any upstream: cl100k_base with a margin, never more than its bytes. */
export async function textTokenBound(text: string): Promise<number> {
  const bytes = encoder.encode(text).byteLength;
  if (bytes <= SMALL_TEXT_BYTES) return bytes;
  return Math.min(bytes, Math.ceil((await countTokensInPieces(text)) * TOKENIZER_MARGIN));
}

/** A chat request as the upstream reads it, image URLs left out (and measured). */
function chatText(body: ChatCompletionRequest, imageBytes: number[]): string {
  // Gateway-only and sampling fields are not prompt; everything else (unknown fields included) is counted.
  const { model: _m, stream: _s, stream_options: _o, template: _t, n: _n, max_tokens: _mt, max_completion_tokens: _mct, temperature: _te, top_p: _tp, top_k: _tk, seed: _sd, ...read } = body;
  return JSON.stringify(read, (_key, value: unknown) => {
    if (isImagePart(value)) {
      imageBytes.push(encoder.encode(value.image_url.url).byteLength);
      return { type: "image_url" };
    }
    return value;
  });
}

function isImagePart(value: unknown): value is { type: "image_url"; image_url: { url: string } } {
  if (typeof value !== "object" || value === null) return false;
  const part = value as { type?: unknown; image_url?: { url?: unknown } };
  return part.type === "image_url" && typeof part.image_url?.url === "string";
}

async function embeddingsTokens(body: EmbeddingsRequest): Promise<number> {
  const input = body.input;
  if (typeof input === "string") return textTokenBound(input);
  if (input.length === 0) return 0;
  // Token arrays are counted exactly; strings as text.
  if (typeof input[0] === "number") return input.length;
  let tokens = 0;
  for (const item of input as (string | number[])[]) tokens += typeof item === "string" ? await textTokenBound(item) : item.length;
  return tokens;
}

export async function countPrompt(parsed: ParsedRequest): Promise<PromptCount> {
  if (parsed.capability === "embeddings") return { tokens: await embeddingsTokens(parsed.body), imageBytes: [] };
  const imageBytes: number[] = [];
  const text = chatText(parsed.body, imageBytes);
  const tools = (parsed.body.tools?.length ?? 0) > 0 ? TOOL_USE_TOKENS : 0;
  return { tokens: (await textTokenBound(text)) + tools, imageBytes };
}

/** The usage and cost reserved for one candidate target. */
export interface ReservedCost {
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
}

/**
 * The preset's prices as the worst case: every input token at the dearest price an input part can be billed
 * at (cache write, audio, the priority tier), every output token likewise (reasoning, audio, priority), since
 * the upstream, not the request, says which parts it served.
 */
function dearestPrices(p: Pricing): Pricing {
  const dearest = (...prices: (number | undefined)[]) => Math.max(...prices.filter((n): n is number => n !== undefined));
  return {
    ...p,
    input_per_million_micros: dearest(p.input_per_million_micros, p.cached_input_per_million_micros, p.cache_write_per_million_micros, p.audio_input_per_million_micros, p.priority?.input_per_million_micros, p.priority?.cached_input_per_million_micros),
    output_per_million_micros: dearest(p.output_per_million_micros, p.reasoning_per_million_micros, p.audio_output_per_million_micros, p.priority?.output_per_million_micros),
  };
}

/** Web searches reserved: one when the request forwards web_search_options (what billable-usage.ts bills when none is reported). */
function searchesReserved(parsed: ParsedRequest, target: PresetItem): number {
  return parsed.capability === "chat" && forwardedExtras(parsed.body, target).has("web_search_options") ? 1 : 0;
}

export function reservedCost(prompt: PromptCount, parsed: ParsedRequest, target: PresetItem): ReservedCost {
  const perImage = target.pricing.per_image_micros;
  // Without a per-image price, an image is input tokens: its bytes, at least MIN_IMAGE_TOKENS.
  const imageTokens = perImage === undefined ? prompt.imageBytes.reduce((sum, b) => sum + Math.max(MIN_IMAGE_TOKENS, b), 0) : 0;
  const inputTokens = prompt.tokens + imageTokens;
  const outputTokens = parsed.capability === "chat" ? (parsed.body.n ?? 1) * outputCap(parsed.body, target) : 0;
  const images = (perImage ?? 0) * prompt.imageBytes.length;
  const searches = searchesReserved(parsed, target) * (target.pricing.web_search_per_call_micros ?? 0);
  return { inputTokens, outputTokens, costMicros: costMicros(dearestPrices(target.pricing), { inputTokens, outputTokens }) + images + searches };
}

/** What admission reserves: the largest cost and token count among the candidates that may serve it. */
export function reservationFor(prompt: PromptCount, parsed: ParsedRequest, candidates: readonly PresetItem[]): { tokens: number; costMicros: number } {
  let tokens = prompt.tokens;
  let cost = 0;
  for (const target of candidates) {
    const r = reservedCost(prompt, parsed, target);
    tokens = Math.max(tokens, r.inputTokens + r.outputTokens);
    cost = Math.max(cost, r.costMicros);
  }
  return { tokens, costMicros: cost };
}
