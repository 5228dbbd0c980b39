// The body streamed to the client, as one stream layer over the upstream's: pulls from the upstream only
// as the client reads (no buffering), each read taking whatever has arrived (up to READ_BUFFER_BYTES), translates
// each read synchronously (src/providers/stream-translator.ts),
// enforces the size limit, turns an upstream failure or a broken translation into one error event in the
// client's format (never a silent clean end), and reports how the body ended, once. One timer per stream keeps
// both deadlines, checked against the time of the last progress (no timer or race per read):
// - the upstream sends nothing for idleTimeoutMs while the client waits: an upstream_timeout error event;
// - the client reads nothing for clientIdleTimeoutMs: it is taken as gone (a vanished client's socket does
//   not always cancel the body), the upstream read is cancelled and the request ends as client_aborted.
import { fail, type GatewayFailure } from "../errors";
import type { RequestEnd } from "../pipeline/ending";
import type { ByteTranslator } from "../providers/stream-translator";

export interface MeterOptions {
  /** Upstream bytes -> the client's (none: passed on as they come). */
  translator?: ByteTranslator;
  idleTimeoutMs: number;
  clientIdleTimeoutMs: number;
  maxBytes: number;
  /** The bytes of an error event in the client's wire format. */
  errorEvent(failure: GatewayFailure): Uint8Array;
  onEnd(end: RequestEnd): void;
  /** Aborted when the client disconnects (request.signal); the upstream read is cancelled at once. */
  clientSignal?: AbortSignal;
}

export const IDLE_DEADLINE_FLAG = "idle_deadline";

/** Bytes asked for per upstream read (a TLS record's worth and more): what has arrived comes in one read. */
export const READ_BUFFER_BYTES = 32 * 1024;

/**
 * Reads of up to `size` bytes: a byte stream (every fetch() body) is read into a buffer of ours, so one
 * read takes everything that has arrived (a default reader hands a native body over in 4 KB pieces, and
 * every piece is a read, a translation call, an enqueue and a write to the client). The buffer is reused
 * when the bytes read were not passed on as they are. Other streams are read as they come.
 */
function bufferedReader(source: ReadableStream<Uint8Array>, size: number, reuse: boolean) {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = source.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream.
  }
  if (!byob) return source.getReader();
  const reader = byob;
  let spare: ArrayBuffer | undefined;
  return {
    async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
      const buffer = spare ?? new ArrayBuffer(size);
      spare = undefined;
      const result = await reader.read(new Uint8Array(buffer));
      if (reuse && result.value) spare = result.value.buffer as ArrayBuffer;
      return result as ReadableStreamReadResult<Uint8Array>;
    },
    cancel: (reason?: unknown) => reader.cancel(reason),
  };
}

export function meteredStream(source: ReadableStream<Uint8Array>, opts: MeterOptions): ReadableStream<Uint8Array> {
  const reader = bufferedReader(source, READ_BUFFER_BYTES, opts.translator !== undefined);
  let bytesSent = 0;
  let ended = false;
  /** A pull is waiting on the upstream (the upstream's deadline applies), else on the client (the client's). */
  let waiting = false;
  let lastProgress = Date.now();
  let upstreamIdle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Deadlines fire within a quarter of the shorter one past their due time.
  const tickMs = Math.max(1, Math.floor(Math.min(opts.idleTimeoutMs, opts.clientIdleTimeoutMs) / 4));

  const finish = (end: RequestEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    opts.clientSignal?.removeEventListener("abort", onClientGone);
    opts.onEnd(end);
  };
  const translator = opts.translator;
  let bytesRead = 0;
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    bytesSent += bytes.byteLength;
    controller.enqueue(bytes);
  };
  const abortWith = (controller: ReadableStreamDefaultController<Uint8Array>, failure: GatewayFailure) => {
    reader.cancel().catch(() => {});
    const event = opts.errorEvent(failure);
    bytesSent += event.byteLength;
    controller.enqueue(event);
    controller.close();
    finish({ ending: "upstream_failed", bytesSent, failure });
  };
  const onClientGone = () => {
    finish({ ending: "client_aborted", bytesSent });
    reader.cancel().catch(() => {});
  };
  const check = () => {
    timer = undefined;
    if (ended) return;
    const idleFor = Date.now() - lastProgress;
    if (waiting && idleFor >= opts.idleTimeoutMs) {
      // The pending read resolves as done once cancelled; the pull then sends the timeout event.
      upstreamIdle = true;
      reader.cancel().catch(() => {});
      return;
    }
    if (!waiting && idleFor >= opts.clientIdleTimeoutMs) {
      finish({ ending: "client_aborted", bytesSent, flag: IDLE_DEADLINE_FLAG });
      reader.cancel().catch(() => {});
      return;
    }
    timer = setTimeout(check, tickMs);
  };
  timer = setTimeout(check, tickMs);
  opts.clientSignal?.addEventListener("abort", onClientGone, { once: true });

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Reads until there is something for the client (a read can complete no event) or the body ends.
        for (;;) {
          if (ended) return closeQuietly(controller);
          waiting = true;
          lastProgress = Date.now();
          let read: ReadableStreamReadResult<Uint8Array> | undefined;
          try {
            read = await reader.read();
          } catch {
            read = undefined;
          }
          waiting = false;
          lastProgress = Date.now();
          // Ended meanwhile (the client left, or its deadline passed): nothing more goes out.
          if (ended) return closeQuietly(controller);
          if (upstreamIdle) return abortWith(controller, fail("upstream_timeout", `upstream sent nothing for ${opts.idleTimeoutMs} ms`));
          if (read === undefined) return abortWith(controller, fail("upstream_error", "upstream stream broke off"));
          if (read.done) {
            if (translator) {
              const last = translator.end();
              if (last.byteLength > 0) send(controller, last);
              if (translator.failure) return abortWith(controller, translator.failure);
            }
            controller.close();
            return finish({ ending: "complete", bytesSent });
          }
          bytesRead += read.value.byteLength;
          if (bytesRead > opts.maxBytes) {
            return abortWith(controller, fail("upstream_response_too_large", "upstream response exceeded the size limit"));
          }
          const out = translator ? translator.push(read.value) : read.value;
          if (out.byteLength > 0) send(controller, out);
          if (translator?.failure) return abortWith(controller, translator.failure);
          if (out.byteLength > 0) return;
        }
      },
      cancel(reason) {
        finish({ ending: "client_aborted", bytesSent });
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function closeQuietly(controller: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    controller.close();
  } catch {
    // Already cancelled by the client: nothing to close.
  }
}
