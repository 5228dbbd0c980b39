// SSE framing: line endings, multi-line data, comments, any chunking (mid-UTF-8 included), bad input.
import { describe, expect, it } from "vitest";
import { createSseParser, encodeSse, SseDecoder, type SseEvent } from "./sse";
import { everyByte, pipeChunks, randomCuts, splitAt, utf8 } from "./fixtures/stream-helpers";

const parse = (chunks: Uint8Array[], maxEventChars?: number) => pipeChunks(chunks, createSseParser({ maxEventChars }));

const SAMPLE =
  ": keep-alive comment\n" +
  "event: message_start\n" +
  'data: {"type":"message_start","text":"Grüße 👋 — 日本語"}\n' +
  "\n" +
  "id: 42\n" +
  "data: line one\n" +
  "data:line two\n" +
  "data: \n" +
  "\n" +
  "event: ping\n" +
  "data: {}\n" +
  "\n" +
  "data: [DONE]\n\n";

const EXPECTED: SseEvent[] = [
  { event: "message_start", data: '{"type":"message_start","text":"Grüße 👋 — 日本語"}' },
  { id: "42", data: "line one\nline two\n" },
  { event: "ping", data: "{}" },
  { data: "[DONE]" },
];

describe("createSseParser", () => {
  it("parses events, multi-line data, ids and comments", async () => {
    expect(await parse([utf8(SAMPLE)])).toEqual(EXPECTED);
  });

  it("accepts CRLF and lone CR line endings", async () => {
    expect(await parse([utf8(SAMPLE.replaceAll("\n", "\r\n"))])).toEqual(EXPECTED);
    expect(await parse([utf8(SAMPLE.replaceAll("\n", "\r"))])).toEqual(EXPECTED);
  });

  it("gives the same events however the bytes are split, including inside UTF-8 sequences", async () => {
    for (const text of [SAMPLE, SAMPLE.replaceAll("\n", "\r\n")]) {
      const bytes = utf8(text);
      expect(await parse(everyByte(bytes))).toEqual(EXPECTED);
      for (let cut = 1; cut < bytes.length; cut++) expect(await parse(splitAt(bytes, [cut]))).toEqual(EXPECTED);
      for (let seed = 1; seed <= 30; seed++) expect(await parse(splitAt(bytes, randomCuts(bytes.length, 6, seed)))).toEqual(EXPECTED);
    }
  });

  it("gives the same events when LF-only chunks and chunks with CR line breaks alternate in one stream", async () => {
    // LF-only text takes a faster path than text with a CR: every cut makes a different mix of the two.
    const lines = SAMPLE.split("\n");
    const mixed = lines.map((line, i) => line + (i === lines.length - 1 ? "" : i % 3 === 0 ? "\r\n" : i % 3 === 1 ? "\n" : "\r")).join("");
    const bytes = utf8(mixed);
    for (let cut = 1; cut < bytes.length; cut++) expect(await parse(splitAt(bytes, [cut]))).toEqual(EXPECTED);
    for (let seed = 1; seed <= 30; seed++) expect(await parse(splitAt(bytes, randomCuts(bytes.length, 6, seed)))).toEqual(EXPECTED);
  });

  it("treats a CR at the end of one chunk and LF at the start of the next as one line break", async () => {
    const events = await parse([utf8("data: a\r"), utf8("\ndata: b\r"), utf8("\n\r"), utf8("\n")]);
    expect(events).toEqual([{ data: "a\nb" }]);
  });

  it("ignores unknown fields and retry, and events without data", async () => {
    expect(await parse([utf8("retry: 100\nfoo: bar\n\nevent: lonely\n\ndata\n\n")])).toEqual([{ data: "" }]);
  });

  it("dispatches a pending event at end of input and keeps an unterminated last line", async () => {
    expect(await parse([utf8('data: {"a":1}\ndata: [DONE]')])).toEqual([{ data: '{"a":1}\n[DONE]' }]);
  });

  it("replaces invalid UTF-8 instead of throwing", async () => {
    const events = await parse([Uint8Array.of(0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xff, 0xc3, 0x0a, 0x0a)]);
    expect(events).toEqual([{ data: "\uFFFD\uFFFD" }]);
  });

  it("strips a leading byte-order mark", async () => {
    expect(await parse([Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf, ...utf8("data: x\n\n"))])).toEqual([{ data: "x" }]);
  });

  it("reports an over-long line as a malformed event, drops it and keeps parsing", async () => {
    const big = "x".repeat(5000);
    const text = `data: ${big}\n\ndata: ok\n\n`;
    for (const chunks of [[utf8(text)], splitAt(utf8(text), [100, 2000, 4000])]) {
      const events = await parse(chunks, 1000);
      expect(events).toHaveLength(2);
      expect(events[0]?.malformed).toBe("too_large");
      expect(events[1]).toEqual({ data: "ok" });
    }
  });

  it("reports an event whose many data lines add up past the limit", async () => {
    const text = `${"data: 0123456789\n".repeat(200)}\ndata: after\n\n`;
    const events = await parse(splitAt(utf8(text), randomCuts(text.length, 20, 7)), 1000);
    expect(events.map((e) => e.malformed ?? e.data)).toEqual(["too_large", "after"]);
  });

  it("does not let the wire set the malformed flag", async () => {
    expect(await parse([utf8("malformed: too_large\ndata: x\n\n")])).toEqual([{ data: "x" }]);
  });
});

describe("encodeSse", () => {
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);

  it("frames data, event and id", () => {
    expect(decode(encodeSse({ data: '{"a":1}' }))).toBe('data: {"a":1}\n\n');
    expect(decode(encodeSse({ event: "message_stop", id: "7", data: "{}" }))).toBe("event: message_stop\nid: 7\ndata: {}\n\n");
  });

  it("splits multi-line data and cannot be made to inject fields", () => {
    const bytes = encodeSse({ event: "x\nevent: y", id: "1\r\ndata: evil", data: "a\r\nb\nc" });
    expect(decode(bytes)).toBe("event: xevent: y\nid: 1data: evil\ndata: a\ndata: b\ndata: c\n\n");
    const d = new SseDecoder();
    expect([...d.push(bytes), ...d.end()]).toEqual([{ event: "xevent: y", id: "1data: evil", data: "a\nb\nc" }]);
  });

  it("round-trips through the parser", async () => {
    const events: SseEvent[] = [{ data: "one" }, { event: "e", data: "two\nlines" }, { id: "9", data: "" }];
    const bytes = events.map((e) => encodeSse(e));
    expect(await parse(bytes)).toEqual(events);
  });
});
