// Which request fields reach an upstream, on the operator's account: a default list per provider format,
// extended per preset (`extra_fields`); any other field is refused with a 400 naming it, or left out, as
// the preset's `unknown_fields` says. Fields that cost more than their tokens at the base price are
// extras that need their own price (checkExtraFields), so nothing a client sends is billed below cost.
import type { Capability, PresetItem, Pricing, ProviderKind } from "../config/schemas";
import { err, fail, ok, type Result } from "../errors";

/** Read by the gateway itself and never forwarded (a template is rendered into the messages first). */
export const GATEWAY_FIELDS = ["template", "variables"] as const;

const OPENAI_CHAT = [
  "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop",
  "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "seed", "response_format", "tools", "tool_choice",
  "parallel_tool_calls", "user", "reasoning_effort",
] as const;
const OPENAI_EMBEDDINGS = ["model", "input", "encoding_format", "dimensions", "user"] as const;
/** What the Anthropic adapter translates (src/providers/anthropic.ts); extras are copied into the Messages body as they are. */
const ANTHROPIC_CHAT = [
  "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "n", "stop",
  "tools", "tool_choice", "parallel_tool_calls", "user",
] as const;

/** The documented default lists (docs/api/presets.md). Azure speaks the OpenAI format. */
export const DEFAULT_FORWARDED_FIELDS: Record<ProviderKind, Record<Capability, readonly string[]>> = {
  openai: { chat: OPENAI_CHAT, embeddings: OPENAI_EMBEDDINGS },
  azure: { chat: OPENAI_CHAT, embeddings: OPENAI_EMBEDDINGS },
  anthropic: { chat: ANTHROPIC_CHAT, embeddings: [] },
};

/** Message content part types an OpenAI-format upstream gets by default; others (input_audio, file) only as extras. */
const DEFAULT_CONTENT_PARTS = new Set(["text", "image_url"]);

/**
 * Extras that make the upstream charge for more than plain tokens, and the price fields they need: a
 * preset may list one only with its price set. `store`, `metadata`, `logit_bias`, `prediction` and
 * `safety_identifier` cost nothing extra (predicted tokens are completion tokens) but are still extras.
 */
export const PRICED_EXTRAS: Record<string, readonly (keyof Pricing)[]> = {
  service_tier: ["priority"],
  web_search_options: ["web_search_per_call_micros"],
  audio: ["audio_input_per_million_micros", "audio_output_per_million_micros"],
  modalities: ["audio_input_per_million_micros", "audio_output_per_million_micros"],
  input_audio: ["audio_input_per_million_micros"],
};

/** An extra that cannot be used as listed, as [field path, message], for the admin write check. */
export function checkExtraFields(item: PresetItem): [string, string] | undefined {
  for (const [j, field] of (item.extra_fields ?? []).entries()) {
    if ((GATEWAY_FIELDS as readonly string[]).includes(field)) return [`extra_fields.${j}`, `${field} is read by the gateway and never forwarded`];
    for (const price of PRICED_EXTRAS[field] ?? []) {
      if (item.pricing[price] === undefined) return [`pricing.${price}`, `must be set: extra_fields lists ${field}, which the upstream charges for`];
    }
  }
  return undefined;
}

function refuse(field: string, target: PresetItem): Result<never> {
  return err(fail("invalid_request", `${field} is not accepted for model ${target.model}`, { param: field }));
}

/** Content parts an OpenAI-format upstream would read from the operator's account (audio, stored files) need the preset's consent. */
function checkContentParts(messages: unknown, target: PresetItem, extras: ReadonlySet<string>): Result<void> {
  if (!Array.isArray(messages)) return ok(undefined);
  for (const [i, message] of messages.entries()) {
    const content = (message as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const [j, part] of content.entries()) {
      const type = (part as { type?: unknown } | null)?.type;
      if (typeof type === "string" && !DEFAULT_CONTENT_PARTS.has(type) && !extras.has(type)) return refuse(`messages.${i}.content.${j}.type`, target);
    }
  }
  return ok(undefined);
}

/**
 * The request body as it may be forwarded to `target`: the gateway's own fields removed, every other
 * field in the default list or the preset's extras kept, the rest refused or dropped. Absent and null
 * values are never forwarded unless listed. A stored preset is applied as it is: nothing it lists is trusted beyond this.
 */
export function forwardableBody<T extends object>(capability: Capability, body: T, target: PresetItem): Result<T> {
  const defaults = DEFAULT_FORWARDED_FIELDS[target.provider][capability];
  const extras = new Set(target.extra_fields ?? []);
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if ((GATEWAY_FIELDS as readonly string[]).includes(field)) continue;
    if (defaults.includes(field) || extras.has(field)) out[field] = value;
    else if (value !== undefined && value !== null && target.unknown_fields === "reject") return refuse(field, target);
  }
  if (capability === "chat" && target.provider !== "anthropic") {
    const parts = checkContentParts(out.messages, target, extras);
    if (!parts.ok) return parts;
  }
  return ok(out as T);
}

/** The extras a request actually sends `target` (for pricing what they cost: src/billing/billable-usage.ts). */
export function forwardedExtras(body: object, target: PresetItem): ReadonlySet<string> {
  const sent = new Set<string>();
  for (const field of target.extra_fields ?? []) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && value !== null) sent.add(field);
  }
  return sent;
}
