// The batch API's shapes shared by the routes, the BatchJob Durable Object and the line consumer:
// OpenAI's batch object, what a batch is created with, and the answers of a line's claim.
import type { Channel } from "../context";

export const BATCH_STATUSES = ["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export const BATCH_ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings"] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/** OpenAI's batch object, as GET /batches/{id} answers it (times in Unix seconds). */
export interface BatchObject {
  id: string;
  object: "batch";
  endpoint: BatchEndpoint;
  errors: { object: "list"; data: { code: string; message: string; param: string | null; line: number | null }[] } | null;
  input_file_id: string;
  completion_window: "24h";
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

/** Who created the batch: its lines run as this caller (a tenant's key, or a service), never as anyone else. */
export interface BatchCreator {
  kind: "api_key" | "service";
  tenantId: string;
  keyId: string;
  /** SHA-256 of the key or token (what the config store is keyed by; never the credential): the line finds its record, revocations included. */
  credentialHash: string;
}

/** One request of the input file: where its bytes are (the line itself stays in R2) and its custom_id. */
export interface BatchLineRef {
  /** 1-based line number in the file (blank lines count). */
  lineNo: number;
  offset: number;
  length: number;
  customId: string;
}

export interface BatchInit {
  id: string;
  /** ownerOf(principal): files and batches are the owner's only. */
  owner: string;
  creator: BatchCreator;
  channel: Channel;
  endpoint: BatchEndpoint;
  inputFileId: string;
  /** The input file's R2 key. */
  inputKey: string;
  metadata: Record<string, string> | null;
  /** Unix seconds. */
  createdAt: number;
  /** The completion window in ms (24 h; shorter only in tests through the test hook). */
  windowMs: number;
  lines: BatchLineRef[];
}

/** What the consumer needs to run a claimed line. */
export interface ClaimedLine {
  run: true;
  batchId: string;
  owner: string;
  creator: BatchCreator;
  channel: Channel;
  endpoint: BatchEndpoint;
  inputKey: string;
  line: BatchLineRef;
  /** The claim's generation: only the holder of the current generation may complete the line. */
  gen: number;
  /** This attempt's gateway request id (hold, ledger row, audit row). */
  requestId: string;
  /** The request id of an earlier attempt whose consumer died during it: its hold is released before the rerun. */
  previousRequestId?: string;
}

export type ClaimAnswer =
  | ClaimedLine
  /** done: the line has its result; stopped: the batch was cancelled or expired; busy: another consumer holds a live lease. */
  | { run: false; reason: "done" | "stopped" | "unknown" }
  | { run: false; reason: "busy"; retryInMs: number };

/** A line's result as the output or error file will hold it. */
export interface LineResult {
  ok: boolean;
  /** The JSONL line (without its newline), or null when it was too large for the object's storage and sits in R2 under `r2Key`. */
  text: string | null;
  r2Key?: string;
}

/**
 * A queue message of the gateway-batch queue: lines [from, to) of a batch. The lines' bytes never travel in it.
 * Several lines per message keep the queue's operations (and a consumer invocation's fixed costs) per line low;
 * each line is still claimed on its own, so a redelivered message runs only the lines not yet done.
 */
export interface BatchLineMessage {
  v: 1;
  batch_id: string;
  owner: string;
  from: number;
  to: number;
}

/** Lines per queue message. */
export const LINES_PER_MESSAGE = 25;

/** How long a claim holds a line: longer than one upstream call with its retries, well below a hold's 10 min. */
export const LINE_LEASE_MS = 180_000;

export function lineRequestId(batchId: string, n: number, gen: number): string {
  return `${batchId.replace(/^batch_/, "breq_")}_${n}_${gen}`;
}

export function outputLineId(batchId: string, n: number): string {
  return `${batchId.replace(/^batch_/, "batch_req_")}_${n}`;
}
