// Bodies read within a byte limit: natively when a length is declared, counted chunk by chunk when not,
// and refused unread when the declared length is already over the limit.
import { describe, expect, it } from "vitest";
import { readBodyLimited } from "./read-limited";

const bytes = (n: number) => new Uint8Array(n).fill(97);

/** A body that reports whether it was read or cancelled. */
function watchedBody(total: number, chunk: number) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled >= total) return controller.close();
      seen.pulled += chunk;
      controller.enqueue(bytes(chunk));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

describe("readBodyLimited", () => {
  it("reads a body whose declared length is within the limit", async () => {
    const read = await readBodyLimited(new Response(bytes(1000), { headers: { "content-length": "1000" } }), 1000);
    expect(read).toEqual({ ok: true, bytes: bytes(1000) });
  });

  it("refuses a declared length over the limit without reading the body, and cancels it", async () => {
    const { stream, seen } = watchedBody(4096, 1024);
    const read = await readBodyLimited(new Response(stream, { headers: { "content-length": "4096" } }), 1000);
    expect(read).toEqual({ ok: false, reason: "too_large" });
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(1024);
  });

  it("counts an undeclared body as it reads, stopping once it passes the limit", async () => {
    const { stream, seen } = watchedBody(64 * 1024, 1024);
    const read = await readBodyLimited(new Response(stream), 3000);
    expect(read).toEqual({ ok: false, reason: "too_large" });
    expect(seen.pulled).toBeLessThan(8 * 1024);
    const small = watchedBody(2048, 1024);
    expect(await readBodyLimited(new Response(small.stream), 3000)).toEqual({ ok: true, bytes: bytes(2048) });
  });

  it("reads a request body the same way, and an empty body as zero bytes", async () => {
    const request = new Request("https://gw.test/x", { method: "POST", body: "hello", headers: { "content-length": "5" } });
    expect(await readBodyLimited(request, 5)).toEqual({ ok: true, bytes: new TextEncoder().encode("hello") });
    expect(await readBodyLimited(new Request("https://gw.test/x"), 5)).toEqual({ ok: true, bytes: new Uint8Array(0) });
  });
});
