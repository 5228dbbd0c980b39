// Streams and the cache. A streamed miss is watched as it passes (OpenAI chunk format, before any
// Anthropic conversion) and assembled into the chat completion it adds up to, kept only if the stream
// finished normally ([DONE] after a finish_reason). A streamed hit is the stored completion written
// back as chunks (role and text, the finish, a usage chunk, [DONE]) and then run through the same
// OpenAI stream transform and Anthropic conversion a live answer goes through.
import type { OpenAIChatCompletion, OpenAIToolCall } from "../providers/types";
import { formatSse, SseDecoder, type SseEvent } from "../providers/sse";
import type { SseTranslator } from "../providers/stream-translator";
import type { Usage } from "../billing/usage-meter";

interface ChoiceParts {
  content: string[];
  refusal: string[];
  toolCalls: Map<number, { id?: string; type: "function"; name: string; args: string[] }>;
  finish: string | null;
}

/** Assembles OpenAI chunks into one completion; `result()` is null unless the stream finished normally. */
export class ChunkAssembler {
  #head: { id: string; created: number; model: string; system_fingerprint?: string } | undefined;
  #choices = new Map<number, ChoiceParts>();
  #done = false;
  #spoiled = false;

  event(data: string): void {
    if (this.#spoiled) return;
    if (data === "[DONE]") return void (this.#done = true);
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return void (this.#spoiled = true);
    }
    if (chunk.error !== undefined) return void (this.#spoiled = true);
    this.#head ??= { id: String(chunk.id ?? ""), created: Number(chunk.created ?? 0), model: String(chunk.model ?? ""), ...(typeof chunk.system_fingerprint === "string" && { system_fingerprint: chunk.system_fingerprint }) };
    for (const raw of Array.isArray(chunk.choices) ? chunk.choices : []) this.#choice(raw as Record<string, unknown>);
  }

  #choice(raw: Record<string, unknown>): void {
    const index = typeof raw.index === "number" ? raw.index : 0;
    let parts = this.#choices.get(index);
    if (!parts) this.#choices.set(index, (parts = { content: [], refusal: [], toolCalls: new Map(), finish: null }));
    if (typeof raw.finish_reason === "string") parts.finish = raw.finish_reason;
    // Log probabilities do not survive assembly: such a stream is not stored (the answer would be lossy).
    if (raw.logprobs !== undefined && raw.logprobs !== null) this.#spoiled = true;
    const delta = (raw.delta ?? {}) as Record<string, unknown>;
    if (typeof delta.content === "string") parts.content.push(delta.content);
    if (typeof delta.refusal === "string") parts.refusal.push(delta.refusal);
    for (const call of Array.isArray(delta.tool_calls) ? (delta.tool_calls as Record<string, unknown>[]) : []) {
      const at = typeof call.index === "number" ? call.index : 0;
      const fn = (call.function ?? {}) as Record<string, unknown>;
      let tool = parts.toolCalls.get(at);
      if (!tool) parts.toolCalls.set(at, (tool = { type: "function", name: "", args: [] }));
      if (typeof call.id === "string") tool.id = call.id;
      if (typeof fn.name === "string") tool.name += fn.name;
      if (typeof fn.arguments === "string") tool.args.push(fn.arguments);
    }
  }

  result(): OpenAIChatCompletion | null {
    const choices = [...this.#choices.entries()].sort(([a], [b]) => a - b);
    if (this.#spoiled || !this.#done || !this.#head || choices.length === 0 || choices.some(([, c]) => c.finish === null)) return null;
    return {
      id: this.#head.id,
      object: "chat.completion",
      created: this.#head.created,
      model: this.#head.model,
      choices: choices.map(([index, c]) => {
        const toolCalls: OpenAIToolCall[] = [...c.toolCalls.entries()]
          .sort(([a], [b]) => a - b)
          .map(([, t]) => ({ id: t.id ?? "", type: "function", function: { name: t.name, arguments: t.args.join("") } }));
        const message: OpenAIChatCompletion["choices"][number]["message"] = { role: "assistant", content: c.content.length > 0 || toolCalls.length === 0 ? c.content.join("") : null };
        if (toolCalls.length > 0) message.tool_calls = toolCalls;
        if (c.refusal.length > 0) message.refusal = c.refusal.join("");
        return { index, message, finish_reason: c.finish as OpenAIChatCompletion["choices"][number]["finish_reason"] };
      }),
      ...(this.#head.system_fingerprint !== undefined && { system_fingerprint: this.#head.system_fingerprint }),
    };
  }
}

/**
 * A stream stage (src/providers/stream-translator.ts) that passes OpenAI-format SSE text through untouched
 * while assembling it. Its answer settles at the stream's clean end (the chain ends a stage only when every
 * stage before it ended cleanly); null past `maxBytes`. A stream that broke or was cancelled never ends the
 * stage: store-answer.ts reads the answer only after a complete ending.
 */
export function tapAnswer(maxBytes: number): { stage: SseTranslator; answer: Promise<OpenAIChatCompletion | null> } {
  const decoder = new SseDecoder();
  const assembler = new ChunkAssembler();
  let seen = 0;
  let watching = true;
  let settle!: (value: OpenAIChatCompletion | null) => void;
  const answer = new Promise<OpenAIChatCompletion | null>((resolve) => (settle = resolve));
  const feed = (events: SseEvent[]) => {
    for (const ev of events) if (!ev.malformed && ev.event === undefined) assembler.event(ev.data);
  };
  const stage: SseTranslator = {
    push(text) {
      if (watching) {
        seen += text.length;
        if (seen > maxBytes) {
          watching = false;
          settle(null);
        } else feed(decoder.pushText(text));
      }
      return text;
    },
    end() {
      if (watching) {
        feed(decoder.endText());
        settle(assembler.result());
      }
      return "";
    },
    failure: undefined,
  };
  return { stage, answer };
}

/** The stored completion as OpenAI chunk SSE: role and text per choice, tool calls, the finish, the usage chunk and [DONE]. */
export function completionAsSse(body: OpenAIChatCompletion, usage: Usage): string {
  const head = { id: body.id, object: "chat.completion.chunk", created: body.created, model: body.model, ...(body.system_fingerprint !== undefined && { system_fingerprint: body.system_fingerprint }) };
  const events: string[] = [];
  for (const choice of body.choices) {
    const delta: Record<string, unknown> = { role: "assistant", content: choice.message.content ?? "" };
    if (choice.message.refusal) delta.refusal = choice.message.refusal;
    if (choice.message.tool_calls?.length) {
      delta.tool_calls = choice.message.tool_calls.map((t, index) => ({ index, id: t.id, type: t.type, function: t.function }));
      if (choice.message.content === null) delta.content = null;
    }
    events.push(formatSse({ data: JSON.stringify({ ...head, choices: [{ index: choice.index, delta, finish_reason: null }] }) }));
    events.push(formatSse({ data: JSON.stringify({ ...head, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }] }) }));
  }
  const usageBlock = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
  events.push(formatSse({ data: JSON.stringify({ ...head, choices: [], usage: usageBlock }) }));
  events.push(formatSse({ data: "[DONE]" }));
  return events.join("");
}
