// Reads a non-streamed answer within the size limit; past the limit the answer is not delivered, but the
// upstream has charged for it, so the body is read on (kept: its last bytes only, where providers put
// `usage`) up to a drain bound, for the billing of what the tenant did not receive (src/billing/unreceived.ts).
import { readBodyLimited, type LimitedRead } from "./read-limited";

export interface DrainBounds {
  /** The body is abandoned (no tail) once this many bytes in all were read. */
  maxBytes: number;
  /** Bytes kept from the end of the body. */
  tailBytes: number;
  /** The body is abandoned when the upstream sends nothing for this long while it is drained, */
  idleMs: number;
  /** or when it is still not over after this long in all. */
  maxMs: number;
}

/** LimitedRead, with the drained tail on too_large (absent when it was not read or did not end in bounds). */
export type AnswerRead = Exclude<LimitedRead, { ok: false }> | { ok: false; reason: "read_error" } | { ok: false; reason: "too_large"; tail?: Uint8Array };

/** The last `tailBytes` of the drained body, or undefined when it did not end within the bounds. */
type Tail = Uint8Array | undefined;

export async function readAnswerLimited(response: Response, limit: number, drain: DrainBounds): Promise<AnswerRead> {
  const declared = response.headers.get("content-length");
  const length = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
  // Within the limit as declared: the native one-go read (a body longer than declared is refused there).
  if (length !== undefined && length <= limit) return readBodyLimited(response, limit);
  if (length !== undefined && length > drain.maxBytes) {
    await response.body?.cancel().catch(() => {});
    return { ok: false, reason: "too_large" };
  }
  const body = response.body;
  if (!body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { ok: true, bytes: concat(chunks, size) };
      size += value.byteLength;
      chunks.push(value);
      if (size > limit) return { ok: false, reason: "too_large", tail: await drainTail(reader, chunks, size, drain) };
    }
  } catch {
    return { ok: false, reason: "read_error" };
  }
}

/** Reads on past the limit keeping the last bytes; gives up (cancelling the body) past the bounds. */
async function drainTail(reader: ReadableStreamDefaultReader<Uint8Array>, kept: Uint8Array[], size: number, drain: DrainBounds): Promise<Tail> {
  const tail = kept;
  let tailSize = size;
  const trim = () => {
    while (tail.length > 1 && tailSize - tail[0]!.byteLength >= drain.tailBytes) tailSize -= tail.shift()!.byteLength;
  };
  trim();
  const deadline = Date.now() + drain.maxMs;
  for (;;) {
    const left = deadline - Date.now();
    if (size > drain.maxBytes || left <= 0) break;
    const read = await readWithin(reader, Math.min(drain.idleMs, left));
    if (read === undefined) break;
    if (read.done) {
      const bytes = concat(tail, tailSize);
      return bytes.subarray(Math.max(0, bytes.byteLength - drain.tailBytes));
    }
    size += read.value.byteLength;
    tail.push(read.value);
    tailSize += read.value.byteLength;
    trim();
  }
  await reader.cancel().catch(() => {});
  return undefined;
}

/** One read, or undefined if nothing (and no end) came within `ms` or the read failed. */
async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<ReadableStreamReadResult<Uint8Array> | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([reader.read().catch(() => undefined), idle]);
  } finally {
    clearTimeout(timer);
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
