// Token counting with a real BPE tokenizer (gpt-tokenizer, cl100k_base), loaded on first use so
// requests whose upstream reports usage never pay for parsing its rank table.
import type { ChatCompletionRequest, EmbeddingsRequest } from "../api/openai-schemas";

type Counter = (text: string) => number;
let counter: Promise<Counter> | undefined;

function loadCounter(): Promise<Counter> {
  counter ??= import("gpt-tokenizer/encoding/cl100k_base").then((m) => (text: string) => m.countTokens(text));
  return counter;
}

export async function countTokens(text: string): Promise<number> {
  if (text === "") return 0;
  return (await loadCounter())(text);
}

/** Cheap upper-bound estimate (no tokenizer) used at admission: about one token per 3 bytes of text. */
export function roughTokenEstimate(text: string): number {
  return Math.ceil(text.length / 3);
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "object" && p && "text" in p ? String(p.text) : "")).join(" ");
  return "";
}

/** Prompt text of a request, for estimates (admission) and for counting when the upstream reports none. */
export function promptText(body: ChatCompletionRequest | EmbeddingsRequest): string {
  if ("messages" in body) return (body as ChatCompletionRequest).messages.map((m) => contentText(m.content)).join("\n");
  const input = (body as EmbeddingsRequest).input;
  if (typeof input === "string") return input;
  return input.map((i) => (typeof i === "string" ? i : Array.isArray(i) ? " ".repeat(i.length * 3) : " ".repeat(3))).join("\n");
}
