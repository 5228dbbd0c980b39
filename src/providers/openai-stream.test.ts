// The OpenAI-format stream at wire speed: events the scan passes on must equal what a full parse would
// give (model swapped, sanitized fields cut, usage hidden), whatever they hold and however they are split.
import { describe, expect, it } from "vitest";
import { deleteKeysDeep } from "./common";
import { openAIChatStream } from "./openai-stream";
import type { TokenUsage } from "./types";
import { azureTextStream, openAITextStream, openAIToolStream } from "./fixtures/openai";
import { everyByte, forOpenAIClient, randomCuts, runText, splitAt, sseEvents, utf8 } from "./fixtures/stream-helpers";

const STRIP = ["system_fingerprint", "service_tier", "prompt_filter_results", "content_filter_results"];

function run(upstream: string, opts: { strip?: string[]; includeUsage?: boolean; chunks?: (b: Uint8Array) => Uint8Array[] } = {}) {
  const seen = { usage: [] as TokenUsage[], text: "" };
  const translator = openAIChatStream(
    {
      requestedModel: "client-model",
      includeUsage: opts.includeUsage ?? true,
      onUsage: (u) => seen.usage.push(u),
      onText: (t) => (seen.text += t),
      stripFields: { fields: opts.strip ?? [] },
    },
    "openai",
  );
  const bytes = utf8(upstream);
  return runText(opts.chunks ? opts.chunks(bytes) : [bytes], forOpenAIClient(translator)).then((out) => ({ out, seen }));
}

/** What the client must get for one upstream event, computed the slow way. */
function expected(data: string, strip: string[], includeUsage: boolean): unknown {
  if (data === "[DONE]") return data;
  const json = JSON.parse(data) as Record<string, unknown>;
  deleteKeysDeep(json, strip);
  if (!includeUsage && json.usage) {
    if (Array.isArray(json.choices) && json.choices.length === 0) return undefined;
    delete json.usage;
  }
  return { ...json, model: "client-model" };
}

const reparse = (text: string) => sseEvents(text).map((e) => (e.data === "[DONE]" ? e.data : JSON.parse(e.data)));

/** Events a content delta may hold that a careless scan would misread. */
const TRICKY = [
  // Key-like text inside content: never a key.
  String.raw`{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"say \"model\":\"x\", \"usage\": {\"error\":1} \\"},"finish_reason":null}]}`,
  // JSON with spaces after colons and commas (some servers' default separators).
  '{"id": "c", "model": "up", "service_tier": "default", "choices": [{"index": 0, "delta": {"content": "spaced"}, "finish_reason": null}], "usage": null}',
  // Unicode escapes (could spell a key): parsed whole.
  '{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"\\u00e9t\\u00e9"},"finish_reason":null}],"s\\u0065rvice_tier":"default"}',
  // Log probabilities: a "content" key whose value is an array.
  '{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"lp"},"logprobs":{"content":[{"token":"lp","logprob":-0.1}]},"finish_reason":null}]}',
  // Two choices (n = 2), each with filter results.
  '{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"one "},"content_filter_results":{"hate":{"filtered":false}},"finish_reason":null},{"index":1,"delta":{"content":"two "},"content_filter_results":{},"finish_reason":null}],"system_fingerprint":"fp"}',
  // An Azure filter error object inside the choice: a nested "error" key sends it to the full parse.
  '{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"f"},"content_filter_results":{"error":{"code":"x","message":"y"}},"finish_reason":null}]}',
];

describe("openAIChatStream at wire speed", () => {
  const streams = { text: openAITextStream(), tool: openAIToolStream(), azure: azureTextStream(), tricky: TRICKY.map((d) => `data: ${d}\n\n`).join("") + 'data: {"id":"c","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n' };

  for (const [name, upstream] of Object.entries(streams)) {
    for (const strip of [[], STRIP]) {
      for (const includeUsage of [true, false]) {
        it(`${name} stream, ${strip.length ? "sanitized" : "not sanitized"}, usage ${includeUsage ? "kept" : "hidden"}: equals the full parse, any split`, async () => {
          const want = sseEvents(upstream)
            .map((e) => expected(e.data, strip, includeUsage))
            .filter((e) => e !== undefined);
          const whole = await run(upstream, { strip, includeUsage });
          expect(reparse(whole.out)).toEqual(want);
          expect(whole.seen.usage).toHaveLength(1);
          expect((await run(upstream, { strip, includeUsage, chunks: everyByte })).out).toBe(whole.out);
          for (let seed = 1; seed <= 5; seed++) {
            const split = await run(upstream, { strip, includeUsage, chunks: (b) => splitAt(b, randomCuts(b.length, 6, seed)) });
            expect(split.out).toBe(whole.out);
            expect(split.seen.text).toBe(whole.seen.text);
          }
        });
      }
    }
  }

  it("reports the same text as the full parse", async () => {
    expect((await run(streams.text)).seen.text).toBe("Grüße 👋 from 東京.");
    expect((await run(streams.tricky)).seen.text).toBe('say "model":"x", "usage": {"error":1} \\spacedétélpone two f');
  });

  it("leaves the upstream's bytes alone where nothing changes", async () => {
    const event = '{"id":"c","model":"client-model","choices":[{"index":0,"delta":{"content":"as is"},"logprobs":null,"finish_reason":null}],"usage":null}';
    const { out } = await run(`data: ${event}\n\n`);
    expect(out.startsWith(`data: ${event}\n\n`)).toBe(true);
    // Cut, not re-serialized: the upstream's own spacing stays.
    const spaced = '{"id": "c", "model": "up", "service_tier": "default", "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}';
    const sanitized = await run(`data: ${spaced}\n\n`, { strip: STRIP });
    expect(sanitized.out.startsWith('data: {"id": "c", "model": "client-model", "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}\n\n')).toBe(true);
  });

  it("reports the tier the usage chunk says served the request, sanitized or not", async () => {
    const stream = [
      '{"id":"c","model":"up","service_tier":"default","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":null}',
      '{"id":"c","model":"up","service_tier":"default","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}',
      "[DONE]",
    ].map((d) => `data: ${d}\n\n`).join("");
    for (const strip of [[], STRIP]) {
      const { out, seen } = await run(stream, { strip });
      expect(seen.usage).toEqual([{ inputTokens: 4, outputTokens: 1, details: { serviceTier: "default" } }]);
      expect(out.includes("service_tier")).toBe(strip.length === 0);
    }
  });
});
