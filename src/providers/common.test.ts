// Shared adapter plumbing: the SSE transform frame (bug containment, upstream cancel) and adapter lookup.
import { describe, expect, it } from "vitest";
import { fail } from "../errors";
import { openAIErrorData, redact, sseTransform } from "./common";
import { adapterFor } from "./index";
import { formatSse } from "./sse";
import { runText, utf8 } from "./fixtures/stream-helpers";

describe("sseTransform", () => {
  const errors: string[] = [];
  const frame = (onEvent: (data: string, write: (s: string) => void) => void) =>
    sseTransform({
      event: (ev, sink) => onEvent(ev.data, (s) => sink.write(s)),
      end: (sink) => sink.write("data: end\n\n"),
      formatError: (f) => formatSse({ data: openAIErrorData(f) }),
      onError: (f) => errors.push(f.kind),
    });

  it("turns a bug in a handler into an error event instead of a broken response", async () => {
    const out = await runText([utf8("data: a\n\ndata: boom\n\ndata: c\n\n")], frame((d, write) => {
      if (d === "boom") throw new TypeError("x is undefined");
      write(`data: ${d}\n\n`);
    }));
    expect(out).toBe(`data: a\n\n${formatSse({ data: openAIErrorData(fail("internal_error", "stream translation failed: x is undefined")) })}`);
    expect(errors).toEqual(["internal_error"]);
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
    const transform = sseTransform({
      event: (ev, sink) => (ev.data.startsWith("{bad") ? sink.fail(fail("upstream_bad_response", "bad")) : sink.write(`data: ${ev.data}\n\n`)),
      end: () => {},
      formatError: () => "data: error\n\n",
    });
    const text = await new Response(upstream.pipeThrough(transform)).text();
    expect(text).toBe('data: {"ok":1}\n\ndata: error\n\n');
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(10);
  });
});

describe("redact", () => {
  it("removes key-like strings and caps length", () => {
    expect(redact("bad key sk-proj-AbC123*****xyz and Bearer eyJhbGciOi.abc")).toBe("bad key [redacted] and [redacted]");
    expect(redact("token " + "A".repeat(60))).toBe("token [redacted]");
    expect(redact("word ".repeat(200)).length).toBe(503);
  });
});

describe("adapterFor", () => {
  it("has an adapter for every provider kind", () => {
    for (const kind of ["openai", "anthropic", "azure"] as const) expect(adapterFor(kind).kind).toBe(kind);
  });
});
