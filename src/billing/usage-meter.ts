// Collects a response's token usage as it passes: the upstream's own figures when it reports them,
// otherwise an estimate counted with a real tokenizer over the text actually delivered.
import type { TokenUsage, UsageDetails } from "../providers/types";
import { countTokensInPieces } from "./tokens";

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** True when counted by the gateway rather than reported by the upstream. */
  estimated: boolean;
  /** Parts priced on their own (cached, audio, reasoning tokens, searches, the tier); only from the upstream's report. */
  details?: UsageDetails;
}

export class UsageMeter {
  #reported?: TokenUsage;
  #text: string[] = [];

  /** `promptText` is only read when the upstream reports no usage and the prompt must be counted. */
  constructor(readonly promptText: () => string) {}

  readonly onUsage = (usage: TokenUsage): void => {
    this.#reported = usage;
  };

  readonly onText = (text: string): void => {
    this.#text.push(text);
  };

  /** Usage as known now. `complete` is false when the body ended early (the upstream's figures then describe the whole answer, not what was delivered). */
  async final(complete = true): Promise<Usage> {
    if (this.#reported && complete) return { ...this.#reported, estimated: false };
    // In pieces: text without spaces would make whole-text BPE quadratic (see countTokensInPieces).
    const outputTokens = await countTokensInPieces(this.#text.join(""));
    const inputTokens = this.#reported?.inputTokens ?? (await countTokensInPieces(this.promptText()));
    return { inputTokens, outputTokens, estimated: true };
  }
}
