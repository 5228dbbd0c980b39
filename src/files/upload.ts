// POST /files, streamed: the multipart body is parsed as it arrives (busboy), hashed as it arrives
// (crypto.DigestStream, for a signed request's signature), its file part checked line by line and
// written to R2 in fixed 5 MiB parts of an R2 multipart upload. Nothing is visible in the bucket until
// commit(): the caller commits only once the signature and the size check out, and abort() leaves
// nothing behind. At most one part (5 MiB) is held in memory, never the file.
import busboy from "busboy";
import type { Readable } from "node:stream";
import { fail, GatewayError, type GatewayFailure, type Result } from "../errors";
import { toHex } from "../security/encoding";
import { JsonlCheck } from "./jsonl-check";
import { fileKey, metadataOf, newFileId, type FileObject } from "./store";

/** R2's parts must be at least 5 MiB (but the last) and all the same size. */
export const PART_BYTES = 5 * 1024 * 1024;
/** Form fields besides the file (purpose) are small; this bounds the whole body beyond the file. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

export interface UploadLimits {
  maxFileBytes: number;
  maxLineBytes: number;
}

/** A received upload, not yet visible: commit() makes it the owner's file, abort() removes every trace. */
export interface ReceivedUpload {
  bodySha256Hex: string;
  purpose: string | undefined;
  commit(): Promise<FileObject>;
  abort(): Promise<void>;
}

/** Buffers the file into fixed-size parts; a file smaller than one part is put whole at commit. */
class PartWriter {
  private upload: R2MultipartUpload | undefined;
  private readonly parts: R2UploadedPart[] = [];
  private buffer = new Uint8Array(PART_BYTES);
  private filled = 0;
  bytes = 0;
  readonly createdAt = Math.floor(Date.now() / 1000);

  constructor(private readonly bucket: R2Bucket, readonly key: string, readonly filename: string) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, PART_BYTES - this.filled);
      this.buffer.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === PART_BYTES) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, { customMetadata: this.metadata(), httpMetadata: { contentType: "application/jsonl" } });
    this.parts.push(await this.upload.uploadPart(this.parts.length + 1, this.buffer.subarray(0, this.filled)));
    this.buffer = new Uint8Array(PART_BYTES);
    this.filled = 0;
  }

  private metadata(): Record<string, string> {
    return metadataOf({ filename: this.filename, purpose: "batch", created_at: this.createdAt });
  }

  async commit(): Promise<void> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.buffer.subarray(0, this.filled), { customMetadata: this.metadata(), httpMetadata: { contentType: "application/jsonl" } });
      return;
    }
    if (this.filled > 0) await this.flush();
    await this.upload.complete(this.parts);
  }

  async abort(): Promise<void> {
    this.buffer = new Uint8Array(0);
    if (this.upload) await this.upload.abort().catch(() => undefined);
  }
}

/** Reads the file part through the writer and the line check, one chunk at a time (the part stream waits meanwhile). */
function consumeFilePart(file: Readable, writer: PartWriter, check: JsonlCheck, limits: UploadLimits): Promise<void> {
  return new Promise((resolve, reject) => {
    // 'end' may come while the last chunk is still being written: it waits for that write, and a failure wins.
    let pending: Promise<void> = Promise.resolve();
    let failed = false;
    const stop = (error: unknown) => {
      if (failed) return;
      failed = true;
      file.destroy();
      reject(error);
    };
    file.on("data", (chunk: Uint8Array) => {
      file.pause();
      pending = (async () => {
        if (writer.bytes + chunk.length > limits.maxFileBytes) throw new GatewayError(fail("request_too_large", `The file is larger than ${limits.maxFileBytes} bytes (MAX_FILE_BYTES).`, { param: "file" }));
        const refused = check.push(chunk);
        if (refused) throw new GatewayError(refused);
        await writer.write(chunk);
      })();
      pending.then(() => file.resume(), stop);
    });
    file.on("end", () => {
      pending.then(() => {
        if (failed) return;
        const refused = check.end();
        if (refused) stop(new GatewayError(refused));
        else resolve();
      }, stop);
    });
    file.on("error", stop);
  });
}

/**
 * Receives a multipart/form-data upload with one `file` part and a `purpose` field. Any failure aborts
 * what was written and answers as a GatewayFailure; success is still invisible until commit().
 */
export async function receiveUpload(request: Request, bucket: R2Bucket, owner: string, limits: UploadLimits): Promise<Result<ReceivedUpload>> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType) || !request.body) {
    return { ok: false, failure: fail("unsupported_media_type", "Upload a file as multipart/form-data with the fields `file` and `purpose`.") };
  }
  const fileId = newFileId();
  let writer: PartWriter | undefined;
  let filePart: Promise<void> | undefined;
  const fields = new Map<string, string>();
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { "content-type": contentType }, limits: { files: 1, fields: 8, fieldSize: 1024, parts: 9 } });
  } catch {
    return { ok: false, failure: fail("invalid_request", "The multipart body has no valid boundary.", { param: "content-type" }) };
  }
  let failed: unknown;
  const failure = new Promise<never>((_, reject) => parser.on("error", (e) => reject((failed ??= e))));
  failure.catch(() => undefined);
  parser.on("field", (name, value) => fields.set(name, value));
  parser.on("file", (name, stream, info) => {
    if (name !== "file" || writer) return void stream.resume();
    writer = new PartWriter(bucket, fileKey(owner, fileId), info.filename || fileId);
    filePart = consumeFilePart(stream, writer, new JsonlCheck(limits.maxLineBytes), limits);
    filePart.catch((e) => {
      failed ??= e;
      parser.destroy();
    });
  });
  const closed = new Promise<void>((resolve) => parser.on("close", resolve));
  const digest = new crypto.DigestStream("SHA-256");
  const hashing = digest.getWriter();
  const reader = request.body.getReader();
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (received > limits.maxFileBytes + FORM_OVERHEAD_BYTES) throw new GatewayError(fail("request_too_large", `The upload is larger than ${limits.maxFileBytes} bytes (MAX_FILE_BYTES).`, { param: "file" }));
      await hashing.write(value);
      if (failed) throw failed;
      if (!parser.write(value)) await Promise.race([new Promise((r) => parser.once("drain", r)), failure, filePart ?? failure]);
      if (failed) throw failed;
    }
    parser.end();
    await Promise.race([closed, failure]);
    if (!filePart || !writer) throw new GatewayError(fail("invalid_request", "The upload has no `file` part.", { param: "file" }));
    await filePart;
    await hashing.close();
    const bodySha256Hex = toHex(new Uint8Array(await digest.digest));
    const done = writer;
    return {
      ok: true,
      value: {
        bodySha256Hex,
        purpose: fields.get("purpose"),
        commit: async () => {
          await done.commit();
          return { id: fileId, object: "file", bytes: done.bytes, created_at: done.createdAt, filename: done.filename, purpose: "batch", status: "processed", status_details: null, expires_at: null };
        },
        abort: () => done.abort(),
      },
    };
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    await writer?.abort();
    return { ok: false, failure: failureOf(error) };
  }
}

function failureOf(error: unknown): GatewayFailure {
  if (error instanceof GatewayError) return error.failure;
  return fail("invalid_request", `The multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`, { param: "file" });
}
