// Reads a response body into memory with a byte limit, so a hostile upstream cannot exhaust memory.

export type LimitedRead = { ok: true; bytes: Uint8Array } | { ok: false; reason: "too_large" | "read_error" };

/**
 * Reads a request's or response's body within the limit. With a declared length, the body is refused
 * at once when that is over the limit, or else read natively in one go (the common case, and much
 * cheaper than a JS read loop); without one, the loop below counts as it reads.
 */
export async function readBodyLimited(message: Request | Response, limit: number): Promise<LimitedRead> {
  const declared = message.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared)) {
    // A declared length over the limit is refused before reading anything (the body is dropped unread).
    if (Number(declared) > limit) {
      await message.body?.cancel().catch(() => {});
      return { ok: false, reason: "too_large" };
    }
    try {
      const bytes = new Uint8Array(await message.arrayBuffer());
      // A body longer than it declared is a broken message, not a way past the limit.
      return bytes.byteLength <= limit ? { ok: true, bytes } : { ok: false, reason: "too_large" };
    } catch {
      return { ok: false, reason: "read_error" };
    }
  }
  return readLimited(message.body, limit);
}

export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<LimitedRead> {
  if (!body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "too_large" };
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, reason: "read_error" };
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0]! };
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}
