// The stream translation frame: bug containment, failures stopping the chain (and the upstream), stages in order.
import { describe, expect, it } from "vitest";
import { errorEventFor } from "../api/stream-errors";
import { fail } from "../errors";
import { chainTranslators, sseTranslator } from "./stream-translator";
import { forOpenAIClient, runText, TEST_TRACE, utf8 } from "./fixtures/stream-helpers";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe("sseTranslator", () => {
  it("turns a bug in a handler into a failure instead of a broken response", async () => {
    const errors: string[] = [];
    const translator = sseTranslator({
      event: (ev, sink) => {
        if (ev.data === "boom") throw new TypeError("x is undefined");
        sink.write(`data: ${ev.data}\n\n`);
      },
      end: (sink) => sink.write("data: end\n\n"),
      onError: (f) => errors.push(f.kind),
    });
    const out = await runText([utf8("data: a\n\ndata: boom\n\ndata: c\n\n")], forOpenAIClient(translator));
    expect(out).toBe(`data: a\n\n${decode(errorEventFor("openai", fail("internal_error", "stream translation failed: x is undefined"), TEST_TRACE))}`);
    expect(errors).toEqual(["internal_error"]);
    expect(translator.failure?.kind).toBe("internal_error");
    expect(translator.push("data: more\n\n")).toBe("");
  });

  it("stops reading the upstream once it has failed", async () => {
    let pulls = 0;
    let cancelled = false;
    const upstream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(utf8(pulls === 2 ? "data: {bad\n\n" : 'data: {"ok":1}\n\n'));
        if (pulls > 1000) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    const translator = sseTranslator({
      event: (ev, sink) => (ev.data.startsWith("{bad") ? sink.fail(fail("upstream_bad_response", "bad")) : sink.write(`data: ${ev.data}\n\n`)),
      end: () => {},
    });
    const text = await new Response(upstream.pipeThrough(forOpenAIClient(translator))).text();
    expect(text).toBe(`data: {"ok":1}\n\n${decode(errorEventFor("openai", fail("upstream_bad_response", "bad"), TEST_TRACE))}`);
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(10);
  });
});

describe("chainTranslators", () => {
  const upper = () => sseTranslator({ event: (ev, sink) => sink.write(`data: ${ev.data.toUpperCase()}\n\n`), end: (sink) => sink.write("data: UPPER END\n\n") });

  it("decodes once, runs the stages in order across any byte split, and ends each", () => {
    const chain = chainTranslators([sseTranslator({ event: (ev, sink) => sink.write(`data: ${ev.data}!\n\n`), end: (sink) => sink.write("data: first end\n\n") }), upper()]);
    const bytes = utf8("data: grüße\n\ndata: b\n\n");
    let out = "";
    for (const b of bytes) out += decode(chain.push(Uint8Array.of(b)));
    out += decode(chain.end());
    expect(out).toBe("data: GRÜSSE!\n\ndata: B!\n\ndata: FIRST END\n\ndata: UPPER END\n\n");
    expect(chain.failure).toBeUndefined();
  });

  it("passes what a failing stage wrote before failing through the later stages, then stops", () => {
    const failing = sseTranslator({
      event: (ev, sink) => (ev.data === "x" ? sink.fail(fail("upstream_error", "broke")) : sink.write(`data: ${ev.data}\n\n`)),
      end: (sink) => sink.write("data: never\n\n"),
    });
    const chain = chainTranslators([failing, upper()]);
    expect(decode(chain.push(utf8("data: a\n\ndata: x\n\ndata: b\n\n")))).toBe("data: A\n\n");
    expect(chain.failure?.kind).toBe("upstream_error");
    expect(chain.push(utf8("data: c\n\n")).byteLength).toBe(0);
    expect(chain.end().byteLength).toBe(0);
  });
});
