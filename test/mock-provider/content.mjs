// Deterministic reply text, token counts, tool calls and embedding vectors for the mock provider.

/*
 * Token rules. Tests elsewhere assert these exact numbers, so change them only with those tests.
 * - A "word" is a maximal run of non-whitespace characters.
 * - Prompt tokens (OpenAI `prompt_tokens`, Anthropic `input_tokens`) = sum over messages of
 *   (4 + words in the message's text). A message's text is its string content, the `text` of its
 *   text parts/blocks and the text inside Anthropic `tool_result` blocks, joined by spaces. Anthropic's
 *   top-level `system` counts as one more message when present. Images, tool definitions and the
 *   arguments of earlier tool calls are not counted.
 * - Completion tokens (`completion_tokens`, `output_tokens`) = words in the emitted text: the reply
 *   content, or the arguments JSON of a tool call.
 * - Reply length = settings.completion_tokens (default DEFAULT_COMPLETION_TOKENS), capped by the
 *   request's `max_completion_tokens` / `max_tokens`; a capped reply ends with finish_reason "length"
 *   (OpenAI) or stop_reason "max_tokens" (Anthropic).
 * - Reply text = the words of "Mock reply to: " + the first 32 characters of the last message's text,
 *   then filler words from a fixed list (starting at an offset hashed from that text), cut to exactly N
 *   words and joined by single spaces.
 * - Tool call: when the request has tools, tool_choice is not "none" and the last message is a user
 *   message (not a tool result), or when settings.fault is "tool_call": call the named tool of
 *   tool_choice, else the first tool (else "lookup"), with arguments {"query": <last user text>}.
 * - Embeddings: tokens per input = its words (or its length when given as a token array); the vector
 *   has `dimensions` (default 8) unit-length float components seeded from a hash of the input.
 */

/** Default reply length: makes a non-streamed OpenAI chat body about 1.4 KB. */
export const DEFAULT_COMPLETION_TOKENS = 130;
/** Default number of content chunks in a stream. */
export const DEFAULT_CHUNKS = 8;

const FILLER = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore " +
  "et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip"
).split(" ");

/** @param {string} s JS `\s` whitespace, the same rule the reply builder splits on. */
export function countWords(s) {
  const m = s.match(/\S+/g);
  return m ? m.length : 0;
}

/** @param {string} s 32-bit FNV-1a, enough to spread inputs over filler offsets and vectors. */
export function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** @param {unknown} content OpenAI string/parts or Anthropic string/blocks. @returns {string} */
export function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  /** @type {string[]} */
  const parts = [];
  for (const p of content) {
    if (typeof p === "string") parts.push(p);
    else if (p && typeof p.text === "string") parts.push(p.text);
    else if (p && p.type === "tool_result") parts.push(textOf(p.content));
  }
  return parts.join(" ");
}

/** @param {unknown} messages @param {unknown} [system] */
export function promptTokens(messages, system) {
  let n = 0;
  if (system !== undefined && system !== null) n += 4 + countWords(textOf(system));
  if (Array.isArray(messages)) for (const m of messages) n += 4 + countWords(textOf(m?.content));
  return n;
}

/** The first `n` words of the reply to `prompt`. @param {string} prompt @param {number} n */
export function replyText(prompt, n) {
  const words = ["Mock", "reply", "to:"];
  for (const w of prompt.slice(0, 32).split(/\s+/)) if (w) words.push(w);
  if (words.length >= n) return words.slice(0, n).join(" ");
  let k = fnv1a(prompt) % FILLER.length;
  while (words.length < n) words.push(FILLER[k++ % FILLER.length]);
  return words.join(" ");
}

/** Endless filler text of about `bytes` bytes (for oversized/endless bodies), always starting with a space. */
export function fillerText(bytes) {
  let s = "";
  let k = 0;
  while (s.length < bytes) s += " " + FILLER[k++ % FILLER.length];
  return s;
}

/**
 * Splits the reply into `chunks` stream pieces whose concatenation is the reply; piece i > 0 starts
 * with the space before its first word, so each piece is one or more whole words.
 * @param {string} text @param {number} chunks
 */
export function splitWords(text, chunks) {
  const words = text ? text.split(" ") : [];
  const k = Math.min(chunks, words.length);
  /** @type {string[]} */
  const pieces = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const end = Math.round(((i + 1) * words.length) / k);
    pieces.push((i > 0 ? " " : "") + words.slice(start, end).join(" "));
    start = end;
  }
  return pieces;
}

/** Splits tool-call arguments JSON into `chunks` character pieces, as providers stream partial JSON. */
export function splitChars(text, chunks) {
  const k = Math.max(1, Math.min(chunks, text.length));
  /** @type {string[]} */
  const pieces = [];
  for (let i = 0; i < k; i++) pieces.push(text.slice(Math.round((i * text.length) / k), Math.round(((i + 1) * text.length) / k)));
  return pieces;
}

/**
 * @typedef {object} Plan
 * @property {"text" | "tool"} kind
 * @property {string} text reply content, or the tool call's arguments JSON
 * @property {string[]} pieces stream pieces of `text`
 * @property {boolean} truncated the reply was cut by max_tokens
 * @property {string} toolName
 * @property {number} promptTokens
 * @property {number} completionTokens
 */

/**
 * Decides what the "model" answers. `lastIsUser`/`lastText` come from the dialect's messages.
 * @param {{ lastText: string, lastIsUser: boolean, tools: string[], forcedTool: string | null,
 *   toolChoiceNone: boolean, maxTokens: unknown, promptTokens: number }} req
 * @param {Record<string, any>} settings
 * @returns {Plan}
 */
export function makePlan(req, settings) {
  const chunks = settings.chunks ?? DEFAULT_CHUNKS;
  const forced = settings.fault === "tool_call";
  const wantsTool = req.tools.length > 0 && !req.toolChoiceNone && req.lastIsUser;
  if (forced || wantsTool) {
    const toolName = req.forcedTool ?? req.tools[0] ?? "lookup";
    const text = JSON.stringify({ query: req.lastText });
    return { kind: "tool", text, pieces: splitChars(text, chunks), truncated: false, toolName,
      promptTokens: req.promptTokens, completionTokens: countWords(text) };
  }
  let n = settings.completion_tokens ?? DEFAULT_COMPLETION_TOKENS;
  let truncated = false;
  if (typeof req.maxTokens === "number" && req.maxTokens >= 0 && req.maxTokens < n) {
    n = Math.floor(req.maxTokens);
    truncated = true;
  }
  const text = replyText(req.lastText, n);
  return { kind: "text", text, pieces: splitWords(text, chunks), truncated, toolName: "",
    promptTokens: req.promptTokens, completionTokens: countWords(text) };
}

/** @param {unknown} input one embeddings input: a string or a token array */
function inputTokens(input) {
  return Array.isArray(input) ? input.length : countWords(String(input));
}

/**
 * @param {unknown} input string | string[] | number[] | number[][]
 * @returns {unknown[] | null} the list of inputs, or null when the shape is invalid
 */
export function embeddingInputs(input) {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === "number")) return [input];
  if (input.every((x) => typeof x === "string" || (Array.isArray(x) && x.every((y) => typeof y === "number")))) return input;
  return null;
}

/** @param {unknown[]} inputs */
export function embeddingTokens(inputs) {
  let n = 0;
  for (const x of inputs) n += inputTokens(x);
  return n;
}

/** Unit-length vector seeded by the input's hash (mulberry32), so equal inputs embed equally. */
export function embeddingVector(input, dims) {
  let seed = fnv1a(typeof input === "string" ? input : JSON.stringify(input));
  const v = new Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const x = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  // Rounded through float32 so the float and base64 encodings carry the same numbers.
  const f = new Float32Array(dims);
  for (let i = 0; i < dims; i++) f[i] = v[i] / norm;
  return f;
}

/** Stands for the per-request id inside cached bodies; replaced on every send. */
export const ID = "__MOCK_ID__";
/** Fixed `created` timestamp (2025-01-01) so equal requests give equal bodies. */
export const CREATED = 1735689600;

/**
 * What an answer reports beyond its text tokens, from the scenario's `usage_details` and `service_tier`
 * settings and the request: reasoning and audio tokens are added to the counts (as the real APIs count
 * them), cached tokens are a part of the prompt count (at most all of it); the served tier is the
 * setting, else the tier the request asked for when it is one a provider serves on demand.
 * @param {{ promptTokens: number, completionTokens: number }} plan @param {Record<string, any>} settings @param {any} body
 */
export function reportedUsage(plan, settings, body) {
  const d = settings.usage_details ?? {};
  const promptTokens = plan.promptTokens + (d.audio_prompt_tokens ?? 0);
  const completionTokens = plan.completionTokens + (d.reasoning_tokens ?? 0) + (d.audio_completion_tokens ?? 0);
  const requested = typeof body?.service_tier === "string" && ["priority", "flex", "scale"].includes(body.service_tier) ? body.service_tier : undefined;
  return {
    promptTokens,
    completionTokens,
    cachedTokens: Math.min(d.cached_tokens ?? 0, promptTokens),
    cacheCreationTokens: d.cache_creation_tokens ?? 0,
    audioPromptTokens: d.audio_prompt_tokens ?? 0,
    reasoningTokens: d.reasoning_tokens ?? 0,
    audioCompletionTokens: d.audio_completion_tokens ?? 0,
    webSearchRequests: d.web_search_requests ?? 0,
    /** @type {string | undefined} */
    serviceTier: settings.service_tier ?? requested,
  };
}
