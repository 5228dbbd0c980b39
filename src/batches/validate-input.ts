// Checks a batch input file at create, streamed from R2 line by line (never held whole): every non-blank
// line a JSON object with a custom_id unique in the file, method POST, the batch's endpoint as url and an
// object body. The first problem is refused with a 400 naming its line; what passes becomes the line table
// (each request's byte range and custom_id) the batch's object keeps, so the lines never travel in messages.
import { fail, type Result } from "../errors";
import type { BatchEndpoint, BatchLineRef } from "./types";

/** OpenAI's limit of requests per batch. */
export const MAX_BATCH_LINES = 50_000;

const NEWLINE = 0x0a;

export async function validateInputFile(body: ReadableStream<Uint8Array>, endpoint: BatchEndpoint): Promise<Result<BatchLineRef[]>> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const lines: BatchLineRef[] = [];
  const ids = new Set<string>();
  let carry: Uint8Array = new Uint8Array(0);
  let carryOffset = 0;
  let offset = 0;
  let lineNo = 0;
  const refuse = (line: number, why: string): Result<BatchLineRef[]> => ({
    ok: false,
    failure: fail("invalid_request", `Line ${line} of the input file ${why}.`, { param: "input_file_id" }),
  });
  const check = (bytes: Uint8Array, start: number): Result<BatchLineRef[]> | undefined => {
    lineNo += 1;
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === 0x0d) length -= 1;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, length));
    } catch {
      return refuse(lineNo, "is not UTF-8");
    }
    if (text.trim() === "") return undefined;
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return refuse(lineNo, "is not valid JSON (a batch input file is JSONL, one request per line)");
    }
    if (typeof request !== "object" || request === null || Array.isArray(request)) return refuse(lineNo, "is not a JSON object");
    const r = request as Record<string, unknown>;
    if (typeof r.custom_id !== "string" || r.custom_id === "") return refuse(lineNo, "has no custom_id");
    if (r.custom_id.length > 512) return refuse(lineNo, "has a custom_id over 512 characters");
    if (ids.has(r.custom_id)) return refuse(lineNo, `repeats the custom_id ${JSON.stringify(r.custom_id)} (each must be unique in the file)`);
    if (r.method !== "POST") return refuse(lineNo, 'has a method other than "POST"');
    if (r.url !== endpoint) return refuse(lineNo, `has url ${JSON.stringify(r.url)}, not the batch's endpoint ${endpoint}`);
    if (typeof r.body !== "object" || r.body === null || Array.isArray(r.body)) return refuse(lineNo, "has no body object");
    if (lines.length >= MAX_BATCH_LINES) return refuse(lineNo, `is beyond the ${MAX_BATCH_LINES} requests a batch may hold`);
    ids.add(r.custom_id);
    lines.push({ lineNo, offset: start, length, customId: r.custom_id });
    return undefined;
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let from = 0;
      for (let nl = value.indexOf(NEWLINE); nl !== -1; nl = value.indexOf(NEWLINE, from)) {
        const piece = value.subarray(from, nl);
        const line = carry.length > 0 ? concat(carry, piece) : piece;
        const start = carry.length > 0 ? carryOffset : offset + from;
        carry = new Uint8Array(0);
        const refused = check(line, start);
        if (refused) return refused;
        from = nl + 1;
      }
      if (from < value.length) {
        if (carry.length === 0) carryOffset = offset + from;
        carry = concat(carry, value.subarray(from));
      }
      offset += value.length;
    }
    if (carry.length > 0) {
      const refused = check(carry, carryOffset);
      if (refused) return refused;
    }
  } finally {
    // Stops the read when a line was refused early (a no-op once the file was read to its end).
    await reader.cancel().catch(() => undefined);
  }
  if (lines.length === 0) return { ok: false, failure: fail("invalid_request", "The input file holds no requests.", { param: "input_file_id" }) };
  return { ok: true, value: lines };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
