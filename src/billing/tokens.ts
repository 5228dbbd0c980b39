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

/** Characters per piece in countTokensInPieces (at most; a piece ends before a space when it can). */
const PIECE = 512;

/** Where the piece starting at `start` ends: before the last space in its second half, else at PIECE characters. */
function pieceEnd(text: string, start: number): number {
  let end = Math.min(text.length, start + PIECE);
  if (end === text.length) return end;
  // The tokenizer splits words before their leading space: cutting there changes no count.
  // Searched in the second half only: a search back through text without spaces would be quadratic.
  const half = start + PIECE / 2;
  const space = text.slice(half, end).lastIndexOf(" ");
  if (space > 0) return half + space;
  // Never cut a surrogate pair in two.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end += 1;
  return end;
}

/**
 * Counts in pieces of at most PIECE characters. BPE merges within a pre-token take time quadratic in its
 * length, and text without spaces (CJK, base64) is one pre-token: 120,000 CJK characters took 74 s in one
 * piece and 0.2 s in pieces. Pieces end before a space where there is one, so ordinary text counts as it
 * does whole; a forced cut can only split a merge, so the sum is never below the whole text's count.
 */
export async function countTokensInPieces(text: string): Promise<number> {
  if (text === "") return 0;
  const count = await loadCounter();
  let total = 0;
  for (let i = 0; i < text.length; ) {
    const end = pieceEnd(text, i);
    total += count(text.slice(i, end));
    i = end;
  }
  return total;
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "object" && p && "text" in p ? String(p.text) : "")).join(" ");
  return "";
}

/**
 * Everything the upstream read as prompt, for counting when it reports no usage: the messages' text, the
 * tool calls' names and arguments, and the tool definitions (as JSON, which is how they are sent).
 */
export function billedPromptText(body: ChatCompletionRequest | EmbeddingsRequest): string {
  if (!("messages" in body)) return promptText(body);
  const chat = body as ChatCompletionRequest;
  const calls = chat.messages.flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []).map((c) => `${c.function.name} ${c.function.arguments}`) : []));
  const tools = (chat.tools ?? []).map((t) => JSON.stringify(t));
  return [promptText(body), ...calls, ...tools].join("\n");
}

/** Prompt text of a request (the messages' text), for counting when the upstream reports none. */
export function promptText(body: ChatCompletionRequest | EmbeddingsRequest): string {
  if ("messages" in body) return (body as ChatCompletionRequest).messages.map((m) => contentText(m.content)).join("\n");
  const input = (body as EmbeddingsRequest).input;
  if (typeof input === "string") return input;
  return input.map((i) => (typeof i === "string" ? i : Array.isArray(i) ? " ".repeat(i.length * 3) : " ".repeat(3))).join("\n");
}
