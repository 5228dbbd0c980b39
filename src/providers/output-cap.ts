// The output cap an upstream is sent: the client's own max_completion_tokens / max_tokens, else the preset's
// max_output_tokens. The reservation (src/billing/reservation.ts) reserves exactly this cap, n times, so
// what an upstream may generate is always what was reserved.
import type { ChatCompletionRequest } from "../api/openai-schemas";
import { DEFAULT_MAX_OUTPUT_TOKENS, type PresetItem } from "../config/schemas";

/** The cap per choice this target is sent for this request. */
export function outputCap(body: Pick<ChatCompletionRequest, "max_tokens" | "max_completion_tokens">, target: Pick<PresetItem, "max_output_tokens">): number {
  return body.max_completion_tokens ?? body.max_tokens ?? target.max_output_tokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
}

/**
 * An OpenAI-format body (OpenAI, Azure) with its cap: a client's own cap goes as the client wrote it; with
 * none (or null, which upstreams read as "no cap"), the preset's goes as max_completion_tokens, the field
 * every current OpenAI chat model takes (max_tokens is refused by reasoning models).
 */
export function withOutputCap(out: Record<string, unknown>, target: Pick<PresetItem, "max_output_tokens">): Record<string, unknown> {
  if (out.max_tokens === null) delete out.max_tokens;
  if (out.max_completion_tokens === null) delete out.max_completion_tokens;
  if (out.max_tokens === undefined && out.max_completion_tokens === undefined) out.max_completion_tokens = outputCap({}, target);
  return out;
}
