// The usage block read from the last bytes of an answer over the size limit.
import { describe, expect, it } from "vitest";
import { usageFromTail } from "./usage-tail";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("usageFromTail", () => {
  it("reads OpenAI's usage, nested details and all, from a tail that starts mid-content", () => {
    const tail = 'filler words "quoted {braces}" end"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3456,"total_tokens":3468,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp"}';
    expect(usageFromTail("openai", bytes(tail))).toMatchObject({ inputTokens: 12, outputTokens: 3456 });
    expect(usageFromTail("azure", bytes(tail))).toMatchObject({ inputTokens: 12, outputTokens: 3456 });
  });

  it("reads Anthropic's usage, cache tokens counted as input", () => {
    const tail = '"stop_reason":"end_turn","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":99}}';
    expect(usageFromTail("anthropic", bytes(tail))).toMatchObject({ inputTokens: 15, outputTokens: 99, details: { cachedInputTokens: 5 } });
  });

  it("finds nothing when the tail has no usage, an unclosed one, or one with no counts", () => {
    expect(usageFromTail("openai", bytes('"content":"say \\"usage\\": {} please"}'))).toBeUndefined();
    expect(usageFromTail("openai", bytes('"usage":{"prompt_tokens":12,"completion_'))).toBeUndefined();
    expect(usageFromTail("openai", bytes('"usage":{}}'))).toBeUndefined();
  });
});
