// Batch files in R2 (the FILES_BUCKET binding): one object per file under its owner's prefix, its
// OpenAI fields in the object's custom metadata. The owner (a tenant on /external/v1, a service on
// /internal/v1) is part of every key, so another owner's file id simply does not exist for a caller.
import type { Principal } from "../context";
import { randomId } from "../security/api-keys";

/** The purposes a file may have: uploaded batch input, and the output and error files a batch writes. */
export type FilePurpose = "batch" | "batch_output";

/** OpenAI's file object (GET /files/{id}). */
export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: "processed";
  status_details: null;
  expires_at: null;
}

/** Whose files these are: tenants and services are separate namespaces, so equal ids never meet. */
export function ownerOf(principal: Pick<Principal, "kind" | "tenantId">): string {
  return `${principal.kind === "service" ? "svc" : "ten"}:${principal.tenantId}`;
}

const FILE_ID = /^file-[A-Za-z0-9]{20,40}$/;

export function newFileId(): string {
  return `file-${randomId("").replace(/[^A-Za-z0-9]/g, "")}`;
}

export function isFileId(id: string): boolean {
  return FILE_ID.test(id);
}

const ownerPrefix = (owner: string) => `files/${encodeURIComponent(owner)}/`;
export const fileKey = (owner: string, fileId: string) => `${ownerPrefix(owner)}${fileId}`;

export interface FileMeta {
  filename: string;
  purpose: FilePurpose;
  created_at: number;
}

export function metadataOf(meta: FileMeta): Record<string, string> {
  return { filename: meta.filename, purpose: meta.purpose, created_at: String(meta.created_at) };
}

function fileObject(id: string, size: number, custom: Record<string, string> | undefined): FileObject {
  return {
    id,
    object: "file",
    bytes: size,
    created_at: Number(custom?.created_at ?? 0),
    filename: custom?.filename ?? id,
    purpose: custom?.purpose === "batch_output" ? "batch_output" : "batch",
    status: "processed",
    status_details: null,
    expires_at: null,
  };
}

/** The owner's file, or null when it does not exist for this owner (another owner's id included). */
export async function headFile(bucket: R2Bucket, owner: string, fileId: string): Promise<FileObject | null> {
  if (!isFileId(fileId)) return null;
  const head = await bucket.head(fileKey(owner, fileId));
  return head ? fileObject(fileId, head.size, head.customMetadata) : null;
}

export async function readFile(bucket: R2Bucket, owner: string, fileId: string): Promise<R2ObjectBody | null> {
  if (!isFileId(fileId)) return null;
  return bucket.get(fileKey(owner, fileId));
}

export async function deleteFile(bucket: R2Bucket, owner: string, fileId: string): Promise<boolean> {
  if (!(await headFile(bucket, owner, fileId))) return false;
  await bucket.delete(fileKey(owner, fileId));
  return true;
}

export interface FileListPage {
  object: "list";
  data: FileObject[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** One page of the owner's files in id order; `after` is the last id of the previous page (OpenAI's cursor). */
export async function listFiles(bucket: R2Bucket, owner: string, opts: { limit: number; after?: string; purpose?: string }): Promise<FileListPage> {
  const prefix = ownerPrefix(owner);
  const data: FileObject[] = [];
  let startAfter = opts.after && isFileId(opts.after) ? fileKey(owner, opts.after) : undefined;
  let hasMore = false;
  // A purpose filter can skip objects, so keep listing until the page is full or the prefix ends.
  for (;;) {
    // `include` is R2's (custom metadata is not listed without it); workers-types lacks the field.
    const listed = await bucket.list({ prefix, startAfter, limit: Math.min(1000, opts.limit + 1), include: ["customMetadata"] } as R2ListOptions);
    for (const object of listed.objects) {
      const file = fileObject(object.key.slice(prefix.length), object.size, object.customMetadata);
      if (opts.purpose && file.purpose !== opts.purpose) continue;
      if (data.length === opts.limit) {
        hasMore = true;
        break;
      }
      data.push(file);
    }
    const last = listed.objects.at(-1);
    if (hasMore || !listed.truncated || !last) break;
    startAfter = last.key;
  }
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}
