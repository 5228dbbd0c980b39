// Helpers shared by the adapters: URLs, headers, upstream error messages, stream event parsing.
import { fail, type GatewayFailure } from "../errors";
import type { SseEvent } from "./sse";
import type { StreamSink } from "./stream-translator";
import type { TokenUsage, UsageDetails } from "./types";

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

export function jsonHeaders(stream: boolean): Record<string, string> {
  return { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" };
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

/** The details worth keeping (positive counts, a named tier), or undefined when there are none. */
export function usageDetails(parts: UsageDetails): UsageDetails | undefined {
  const out: UsageDetails = {};
  for (const [key, value] of Object.entries(parts) as [keyof UsageDetails, unknown][]) {
    if ((typeof value === "number" && value > 0) || (typeof value === "string" && value !== "")) Object.assign(out, { [key]: value });
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function withDetails(usage: TokenUsage, details: UsageDetails | undefined): TokenUsage {
  return details ? { ...usage, details } : usage;
}

/**
 * OpenAI-style usage object (also what Azure sends) -> TokenUsage, or undefined when absent. Cached and
 * audio prompt tokens and reasoning and audio output tokens are parts of the two counts; `serviceTier`
 * is the answer's top-level `service_tier` (in a stream: the usage chunk's).
 */
export function openAIUsage(x: unknown, serviceTier?: unknown): TokenUsage | undefined {
  if (!isRecord(x)) return undefined;
  const prompt = isRecord(x.prompt_tokens_details) ? x.prompt_tokens_details : {};
  const completion = isRecord(x.completion_tokens_details) ? x.completion_tokens_details : {};
  return withDetails(
    { inputTokens: num(x.prompt_tokens), outputTokens: num(x.completion_tokens) },
    usageDetails({
      cachedInputTokens: num(prompt.cached_tokens),
      audioInputTokens: num(prompt.audio_tokens),
      reasoningTokens: num(completion.reasoning_tokens),
      audioOutputTokens: num(completion.audio_tokens),
      serviceTier: typeof serviceTier === "string" ? serviceTier.slice(0, 32) : undefined,
    }),
  );
}

const SECRET_LIKE = /\b(?:sk|pk|rk)-[A-Za-z0-9_*-]{6,}|\bBearer\s+\S+|\b[A-Za-z0-9_*+/=-]{40,}/g;
const MAX_MESSAGE = 500;

/** Strips anything that looks like a key (providers echo masked keys, e.g. "Incorrect API key provided: sk-ab***yz"). */
export function redact(message: string): string {
  const clean = message.replace(SECRET_LIKE, "[redacted]");
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE)}...` : clean;
}

/**
 * Upstream error body -> a message safe to show the client. OpenAI, Azure and Anthropic all put it at
 * `error.message`. A 401 never says why: it is about the gateway's credential, not the client's.
 */
export function upstreamErrorMessage(provider: string, status: number, bodyText: string): string {
  if (status === 401) return `${provider} rejected the gateway's upstream credential (HTTP 401)`;
  let message: string | undefined;
  try {
    const json: unknown = JSON.parse(bodyText);
    if (isRecord(json)) {
      const err = json.error;
      if (isRecord(err) && typeof err.message === "string") message = err.message;
      else if (typeof err === "string") message = err;
      else if (typeof json.message === "string") message = json.message;
    }
  } catch {
    // Not JSON (an HTML page from a proxy, say): do not echo it.
  }
  return message ? `${provider}: ${redact(message)}` : `${provider} returned HTTP ${status}`;
}

/**
 * Removes every member named in `keys` from `x`, at any depth (the sanitizer's fields sit at the top
 * level and in each choice); true when something was removed.
 */
export function deleteKeysDeep(x: unknown, keys: readonly string[]): boolean {
  if (typeof x !== "object" || x === null) return false;
  let removed = false;
  if (Array.isArray(x)) {
    for (const item of x) removed = deleteKeysDeep(item, keys) || removed;
    return removed;
  }
  const record = x as Record<string, unknown>;
  for (const key of keys) {
    if (Object.hasOwn(record, key)) {
      delete record[key];
      removed = true;
    }
  }
  for (const value of Object.values(record)) removed = deleteKeysDeep(value, keys) || removed;
  return removed;
}

export function parseJsonEvent(ev: SseEvent, sink: StreamSink): Record<string, unknown> | undefined {
  if (ev.malformed) {
    sink.fail(fail("upstream_bad_response", `upstream stream is malformed: ${ev.data}`));
    return undefined;
  }
  try {
    const json: unknown = JSON.parse(ev.data);
    if (isRecord(json)) return json;
  } catch {
    // fall through
  }
  sink.fail(fail("upstream_bad_response", "upstream sent a stream event that is not a JSON object"));
  return undefined;
}

export function truncatedStream(): GatewayFailure {
  return fail("upstream_bad_response", "upstream stream ended before the response was complete");
}
