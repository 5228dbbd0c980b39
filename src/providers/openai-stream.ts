// OpenAI-format SSE (OpenAI, Azure and compatible servers) -> the same for the client, at wire speed.
// Most events are content deltas that need only the model name swapped (and, on the external channel,
// the sanitized fields cut out): those are scanned, never parsed, and go out as the upstream wrote
// them. An event that carries anything the gateway acts on — usage, a finish reason, an error, tool
// calls, a refusal — or that the scan cannot read with certainty is parsed whole, as before.
import { fail } from "../errors";
import { deleteKeysDeep, isRecord, openAIUsage, parseJsonEvent, redact, truncatedStream } from "./common";
import { stringEnd, stringText, valueEnd, withoutMember } from "./json-scan";
import { sseTranslator, type SseTranslator, type StreamSink } from "./stream-translator";
import type { ChatStreamOptions } from "./types";

/** Keys whose non-null value sends an event to the full parse. */
const ACTED_ON = ["usage", "finish_reason", "error", "tool_calls", "refusal", "function_call"];

const patterns = new Map<string, RegExp>();

/** One pass finds every key the scan cares about; a quote preceded by a backslash is inside a string. */
function keyPattern(strip: readonly string[]): RegExp {
  const id = strip.join(",");
  let pattern = patterns.get(id);
  if (!pattern) {
    const keys = ["model", "content", ...ACTED_ON, ...strip].map((k) => k.replace(/[^A-Za-z0-9_]/g, ""));
    pattern = new RegExp(`(?<!\\\\)"(${keys.join("|")})"[ \\t\\r\\n]*:[ \\t\\r\\n]*`, "g");
    patterns.set(id, pattern);
  }
  return pattern;
}

/**
 * The event as the client gets it (model swapped, `strip` fields cut) with its text reported, or
 * undefined when it must be parsed: it carries something the gateway acts on, or reads oddly
 * (unicode escapes, which could spell a key, or a value the scan cannot delimit).
 */
function scanEvent(data: string, modelJson: string, strip: readonly string[], onText: (t: string) => void): string | undefined {
  if (data.charCodeAt(0) !== 123 || data.charCodeAt(data.length - 1) !== 125 || data.includes("\\u")) return undefined;
  const pattern = keyPattern(strip);
  pattern.lastIndex = 0;
  let texts: string[] | undefined;
  // Edits as [start, end, replacement or undefined to cut the member], in order of position.
  const edits: Array<[number, number, string | undefined]> = [];
  let modelSeen = false;
  for (let m = pattern.exec(data); m !== null; m = pattern.exec(data)) {
    const key = m[1]!;
    const at = pattern.lastIndex;
    const isNull = data.startsWith("null", at);
    if (key === "model" && !modelSeen) {
      modelSeen = true;
      const end = data.charCodeAt(at) === 34 ? stringEnd(data, at) : -1;
      if (end === -1) return undefined;
      edits.push([at, end, modelJson]);
      pattern.lastIndex = end;
    } else if (key === "content") {
      if (isNull) continue;
      const end = data.charCodeAt(at) === 34 ? stringEnd(data, at) : -1;
      const text = end === -1 ? undefined : stringText(data, at, end);
      if (text === undefined) return undefined;
      (texts ??= []).push(text);
      pattern.lastIndex = end;
    } else if (strip.includes(key)) {
      const end = valueEnd(data, at);
      if (end === -1) return undefined;
      edits.push([m.index, end, undefined]);
      pattern.lastIndex = end;
    } else if (!isNull) {
      return undefined;
    }
  }
  if (texts) for (const t of texts) if (t) onText(t);
  let out = data;
  for (let i = edits.length - 1; i >= 0; i--) {
    const [start, end, replacement] = edits[i]!;
    out = replacement === undefined ? withoutMember(out, start, end) : out.slice(0, start) + replacement + out.slice(end);
  }
  return out;
}

function reportText(chunk: Record<string, unknown>, onText: (t: string) => void): boolean {
  let finished = false;
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  for (const choice of choices) {
    if (!isRecord(choice)) continue;
    if (typeof choice.finish_reason === "string") finished = true;
    const delta = choice.delta;
    if (!isRecord(delta)) continue;
    if (typeof delta.content === "string" && delta.content) onText(delta.content);
    if (typeof delta.refusal === "string" && delta.refusal) onText(delta.refusal);
    if (!Array.isArray(delta.tool_calls)) continue;
    for (const call of delta.tool_calls) {
      const fn = isRecord(call) ? call.function : undefined;
      if (!isRecord(fn)) continue;
      if (typeof fn.name === "string" && fn.name) onText(fn.name);
      if (typeof fn.arguments === "string" && fn.arguments) onText(fn.arguments);
    }
  }
  return finished;
}

const MODEL_FIELD = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

export function openAIChatStream(opts: ChatStreamOptions, provider: string): SseTranslator {
  const modelJson = JSON.stringify(opts.requestedModel);
  const modelField = `"model":${modelJson}`;
  let done = false;
  let finished = false;
  let usageSeen = false;

  /** The full parse, for events the scan declined. */
  const parsed = (data: string, strip: readonly string[], sink: StreamSink) => {
    const chunk = parseJsonEvent({ data }, sink);
    if (!chunk) return;
    if (chunk.error !== undefined && chunk.error !== null) {
      const message = isRecord(chunk.error) && typeof chunk.error.message === "string" ? redact(chunk.error.message) : "stream error";
      sink.fail(fail("upstream_error", `${provider}: ${message}`));
      return;
    }
    if (reportText(chunk, opts.onText)) finished = true;
    let raw = data;
    // The tier that served the request rides on every chunk, the usage chunk included (read before the
    // external channel's sanitizing strips it).
    const usage = openAIUsage(chunk.usage, chunk.service_tier);
    if (usage && !usageSeen) {
      usageSeen = true;
      opts.onUsage(usage);
    }
    let edited = strip.length > 0 && deleteKeysDeep(chunk, strip);
    if (usage && !opts.includeUsage) {
      // The usage-only chunk exists because the gateway asked for it: the client never sees it.
      if (Array.isArray(chunk.choices) && chunk.choices.length === 0) return;
      delete chunk.usage;
      edited = true;
    }
    if (edited) raw = JSON.stringify(chunk);
    raw = raw.replace(MODEL_FIELD, () => modelField);
    sink.write(`data: ${raw}\n\n`);
  };

  return sseTranslator({
    event(ev, sink) {
      if (done) return;
      if (ev.malformed) {
        parseJsonEvent(ev, sink);
        return;
      }
      // Some OpenAI-compatible servers name their error events instead of sending an `error` object.
      if (ev.event === "error") {
        sink.fail(fail("upstream_error", `${provider}: ${redact(ev.data.slice(0, 200)) || "stream error"}`));
        return;
      }
      if (ev.data === "[DONE]") {
        done = true;
        sink.write("data: [DONE]\n\n");
        return;
      }
      const strip = opts.stripFields?.fields ?? [];
      const out = scanEvent(ev.data, modelJson, strip, opts.onText);
      if (out === undefined) parsed(ev.data, strip, sink);
      else sink.write(`data: ${out}\n\n`);
    },
    end(sink) {
      if (done) return;
      // The content is complete once a finish_reason came; only the trailer is missing.
      if (finished) sink.write("data: [DONE]\n\n");
      else sink.fail(truncatedStream());
    },
    onError: opts.onError,
  });
}
