// The gateway's half of Idempotency-Key: answers a replay from the stored response (no upstream call,
// no hold, no debit); for a request that claimed a key, captures what the client received; and, as the
// completion task finish_idempotency, reports to the TenantGuard how the request ended: stored if it was
// a complete 2xx answer, otherwise the key is freed so a retry can proceed.
import { guardFor } from "../objects";
import type { CapturedBody, GatewayContext, PendingResponse } from "../context";
import type { IdempotencyFinish, StoredResponse } from "../guard/types";
import type { GatewayCompletion } from "../steps/types";
import { MAX_REPLAY_BYTES } from "../../durable-objects/tenant-guard/idempotency";

/** Response headers kept with the body: the ones that describe it. */
const KEPT_HEADERS = ["content-type", "cache-control"] as const;
/** A complete stream's capture settles within microtasks of its end; this only bounds a pathological wait. */
const CAPTURE_WAIT_MS = 5_000;

/** The stored response when admission answered with a replay; the request then ends here, audited, unbilled. */
export function replayStoredResponse(ctx: GatewayContext): Response | undefined {
  const admitted = ctx.admission;
  if (!admitted || admitted.ok || admitted.replay === undefined) return undefined;
  const stored = admitted.replay;
  ctx.flags.add("idempotent_replay");
  ctx.status = stored.status;
  const headers = new Headers(ctx.responseHeaders);
  for (const [name, value] of Object.entries(stored.headers)) headers.set(name, value);
  headers.set("idempotent-replayed", "true");
  ctx.ending.end({ ending: "complete", bytesSent: stored.body.byteLength });
  return new Response(stored.stream ? eventStream(stored.body) : stored.body, { status: stored.status, headers });
}

/** Whether admission claimed this request's Idempotency-Key (a hold was taken with it): its answer must be kept. */
export function claimedKey(ctx: GatewayContext): boolean {
  return ctx.idempotency !== undefined && ctx.holdId !== undefined && ctx.principal !== undefined;
}

/** Wraps the client's stream to copy what it receives (pulling only as the client reads). */
export function captureStream(ctx: GatewayContext, pending: PendingResponse & { stream: ReadableStream<Uint8Array> }): ReadableStream<Uint8Array> {
  const capture = capturing(pending.stream, MAX_REPLAY_BYTES);
  ctx.idempotency!.capture = { headers: keptHeaders(pending.headers), stream: true, body: capture.done };
  return capture.stream;
}

/** Remembers a non-streamed body exactly as sent. */
export function captureBody(ctx: GatewayContext, pending: PendingResponse, text: string): void {
  const bytes = new TextEncoder().encode(text);
  const body = bytes.byteLength > MAX_REPLAY_BYTES ? { bytes: null, total: bytes.byteLength } : { bytes, total: bytes.byteLength };
  ctx.idempotency!.capture = { headers: keptHeaders(pending.headers), stream: false, body: Promise.resolve(body) };
}

async function finishOf(ctx: GatewayContext, ending: string): Promise<IdempotencyFinish> {
  const claim = await ctx.idempotency!.claim;
  const base = { key: claim.key, holdId: ctx.holdId! };
  const capture = ctx.idempotency!.capture;
  const status = ctx.status ?? 0;
  if (ending !== "complete" || ctx.error !== undefined || status < 200 || status >= 300 || capture === undefined) return { ...base, outcome: "failed" };
  const body = await withTimeout(capture.body, CAPTURE_WAIT_MS);
  if (body === null) return { ...base, outcome: "failed" };
  if (body.bytes === null) return { ...base, outcome: "too_large", bytes: body.total };
  const response: StoredResponse = { status, headers: capture.headers, body: body.bytes, stream: capture.stream };
  return { ...base, outcome: "completed", response };
}

/** First of the completion list: the sooner the key completes, the shorter a retry sees idempotency_key_in_use. */
export const finishIdempotency: GatewayCompletion = {
  name: "finish_idempotency",
  when: claimedKey,
  async run(ctx, outcome) {
    const result = await finishOf(ctx, outcome.ending);
    try {
      await guardFor(ctx.env, ctx.principal!.tenantId).finishIdempotent(result);
    } catch (error) {
      // The claim then lapses with the hold (or at its in-flight limit); retries get in_use until then.
      console.error(JSON.stringify({ level: "error", msg: "idempotency finish failed", request_id: ctx.requestId, outcome: result.outcome, error: String(error) }));
    }
  },
};

function keptHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** Passes the stream through untouched, copying up to `limit` bytes; `done` is null if the client left. */
function capturing(source: ReadableStream<Uint8Array>, limit: number): { stream: ReadableStream<Uint8Array>; done: Promise<CapturedBody | null> } {
  const reader = source.getReader();
  let chunks: Uint8Array[] | null = [];
  let total = 0;
  let settle!: (value: CapturedBody | null) => void;
  const done = new Promise<CapturedBody | null>((resolve) => (settle = resolve));
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.read();
        } catch (error) {
          settle(null);
          controller.error(error);
          return;
        }
        if (read.done) {
          controller.close();
          settle({ bytes: chunks === null ? null : concat(chunks, total), total });
          return;
        }
        total += read.value.byteLength;
        // Past the limit the copy is dropped at once: only the size is still counted.
        if (chunks !== null && total > limit) chunks = null;
        else chunks?.push(read.value.slice());
        controller.enqueue(read.value);
      },
      cancel(reason) {
        settle(null);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, done };
}

/** Replays stored SSE text event by event, as a live stream would arrive. */
function eventStream(body: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= body.byteLength) return controller.close();
        let end = offset;
        while (end + 1 < body.byteLength && !(body[end] === 0x0a && body[end + 1] === 0x0a)) end++;
        end = Math.min(body.byteLength, end + 2);
        controller.enqueue(body.slice(offset, end));
        offset = end;
      },
    },
    { highWaterMark: 0 },
  );
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
