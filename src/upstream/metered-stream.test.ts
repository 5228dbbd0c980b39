// The stream layer's reads: a byte stream (what fetch() gives) read into the layer's own buffer, many
// upstream pieces per read, every byte delivered in order whether the buffer is reused or passed on.
import { describe, expect, it } from "vitest";
import { fail } from "../errors";
import type { RequestEnd } from "../pipeline/ending";
import type { ByteTranslator } from "../providers/stream-translator";
import { meteredStream, READ_BUFFER_BYTES, type MeterOptions } from "./metered-stream";

const encoder = new TextEncoder();

/** A native byte stream holding `pieces`, all there before the first read (as a fast upstream's body arrives). */
function byteStream(pieces: string[]): ReadableStream<Uint8Array> {
  return new Response(pieces.join("")).body!;
}

/** A translator that copies what it is given (upper-cased) and counts its calls. */
function copying(): ByteTranslator & { calls: number } {
  const decoder = new TextDecoder();
  return {
    calls: 0,
    push(chunk) {
      this.calls++;
      return encoder.encode(decoder.decode(chunk, { stream: true }).toUpperCase());
    },
    end: () => new Uint8Array(0),
    failure: undefined,
  };
}

function options(translator: ByteTranslator | undefined, ends: RequestEnd[]): MeterOptions {
  return {
    translator,
    idleTimeoutMs: 10_000,
    clientIdleTimeoutMs: 10_000,
    maxBytes: 1 << 20,
    errorEvent: (f) => encoder.encode(`error: ${f.kind}`),
    onEnd: (end) => ends.push(end),
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ text: string; chunks: number }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), chunks };
    chunks++;
    text += decoder.decode(value, { stream: true });
  }
}

describe("meteredStream reads", () => {
  it("takes everything a byte stream has ready in one read, and reuses its buffer without mixing reads up", async () => {
    const pieces = Array.from({ length: 200 }, (_, i) => `data: {"n":${i},"text":"${"x".repeat(40)}"}\n\n`);
    const ends: RequestEnd[] = [];
    const translator = copying();
    const out = await readAll(meteredStream(byteStream(pieces), options(translator, ends)));
    expect(out.text).toBe(pieces.join("").toUpperCase());
    // 12 KB fit in one buffer: one translator call and one client chunk (a default reader took four).
    expect(translator.calls).toBe(1);
    expect(out.chunks).toBe(1);
    expect(ends).toEqual([{ ending: "complete", bytesSent: out.text.length }]);
  });

  it("delivers a body larger than its buffer intact over several reads", async () => {
    const piece = "0123456789abcdef".repeat(1024); // 16 KB
    const pieces = Array.from({ length: 5 }, (_, i) => `${i}${piece}`);
    const ends: RequestEnd[] = [];
    const translator = copying();
    const out = await readAll(meteredStream(byteStream(pieces), options(translator, ends)));
    expect(out.text).toBe(pieces.join("").toUpperCase());
    expect(translator.calls).toBeGreaterThanOrEqual(Math.ceil(pieces.join("").length / READ_BUFFER_BYTES));
  });

  it("passes a byte stream's bytes on as they are without a translator", async () => {
    const pieces = ["data: a\n\n", "data: b\n\n", "data: [DONE]\n\n"];
    const ends: RequestEnd[] = [];
    const out = await readAll(meteredStream(byteStream(pieces), options(undefined, ends)));
    expect(out.text).toBe(pieces.join(""));
    expect(ends[0]?.ending).toBe("complete");
  });

  it("reads a stream that is not a byte stream as it comes", async () => {
    const pieces = ["data: a\n\n", "data: b\n\n"];
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(encoder.encode(piece));
        controller.close();
      },
    });
    const ends: RequestEnd[] = [];
    const translator = copying();
    const out = await readAll(meteredStream(source, options(translator, ends)));
    expect(out.text).toBe(pieces.join("").toUpperCase());
    expect(translator.calls).toBe(2);
  });

  it("still refuses a body over the size limit", async () => {
    const ends: RequestEnd[] = [];
    const opts = { ...options(copying(), ends), maxBytes: 100 };
    const out = await readAll(meteredStream(byteStream(["x".repeat(80), "y".repeat(80)]), opts));
    expect(out.text.endsWith(`error: ${fail("upstream_response_too_large", "").kind}`)).toBe(true);
    expect(ends[0]?.ending).toBe("upstream_failed");
  });
});
