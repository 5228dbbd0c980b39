// The usage block at the end of an answer the gateway did not deliver (over the size limit): OpenAI, Azure
// and Anthropic all close a non-streamed answer with `"usage": {...}`, so its last bytes say what the
// upstream charged. A `"usage"` key cannot occur inside a JSON string (its quotes would be escaped).
import type { ProviderKind } from "../config/schemas";
import { anthropicUsage } from "./anthropic-stream";
import { openAIUsage } from "./common";
import type { TokenUsage } from "./types";

const decoder = new TextDecoder();

export function usageFromTail(provider: ProviderKind, tail: Uint8Array): TokenUsage | undefined {
  const text = decoder.decode(tail);
  const key = text.lastIndexOf('"usage"');
  if (key < 0) return undefined;
  const open = /^"usage"\s*:\s*\{/.exec(text.slice(key, key + 64));
  if (!open) return undefined;
  const start = key + open[0].length - 1;
  const end = closingBrace(text, start);
  if (end < 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text.slice(start, end + 1));
  } catch {
    return undefined;
  }
  const usage = provider === "anthropic" ? anthropicUsage(json) : openAIUsage(json);
  // A block with no counts at all is no evidence of what was charged.
  return usage && usage.inputTokens + usage.outputTokens > 0 ? usage : undefined;
}

/** Index of the brace closing the object opened at `start`, strings skipped; -1 if it does not close. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return i;
  }
  return -1;
}
