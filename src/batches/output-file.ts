// Writes a batch's output or error file to R2 as one of the owner's files (purpose batch_output): lines
// gathered into 5 MiB parts of a multipart upload, so a large batch's results are never held whole.
import { fileKey, metadataOf, newFileId, type FileObject } from "../files/store";
import { PART_BYTES } from "../files/upload";

const encoder = new TextEncoder();

export async function writeOutputFile(bucket: R2Bucket, owner: string, filename: string, lines: Iterable<string> | AsyncIterable<string>, fileId = newFileId()): Promise<FileObject> {
  const key = fileKey(owner, fileId);
  const createdAt = Math.floor(Date.now() / 1000);
  const options = { customMetadata: metadataOf({ filename, purpose: "batch_output", created_at: createdAt }), httpMetadata: { contentType: "application/jsonl" } };
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  let buffer = new Uint8Array(PART_BYTES);
  let filled = 0;
  let bytes = 0;
  const flush = async () => {
    upload ??= await bucket.createMultipartUpload(key, options);
    parts.push(await upload.uploadPart(parts.length + 1, buffer.subarray(0, filled)));
    buffer = new Uint8Array(PART_BYTES);
    filled = 0;
  };
  try {
    for await (const line of lines) {
      const chunk = encoder.encode(`${line}\n`);
      bytes += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(chunk.length - at, PART_BYTES - filled);
        buffer.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === PART_BYTES) await flush();
      }
    }
    if (!upload) await bucket.put(key, buffer.subarray(0, filled), options);
    else {
      if (filled > 0) await flush();
      await upload.complete(parts);
    }
  } catch (error) {
    await upload?.abort().catch(() => undefined);
    throw error;
  }
  return { id: fileId, object: "file", bytes, created_at: createdAt, filename, purpose: "batch_output", status: "processed", status_details: null, expires_at: null };
}
