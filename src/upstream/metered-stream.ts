// Wraps the body streamed to the client: pulls from the source only as the client reads (no
// buffering), enforces the idle timeout and the size limit, turns an upstream failure into an error
// event in the client's format (never a silent clean end), and reports how the body ended, once.
import { fail, type GatewayFailure } from "../errors";

export type StreamEnding = "complete" | "client_aborted" | "upstream_failed";

export interface MeterOptions {
  idleTimeoutMs: number;
  maxBytes: number;
  /** The bytes of an error event in the client's wire format. */
  errorEvent(failure: GatewayFailure): Uint8Array;
  onEnd(outcome: { ending: StreamEnding; bytesSent: number; failure?: GatewayFailure }): void;
  /** Aborted when the client disconnects (request.signal); the upstream read is cancelled at once. */
  clientSignal?: AbortSignal;
}

type ReadOutcome = { kind: "chunk"; value: Uint8Array } | { kind: "done" } | { kind: "error" } | { kind: "idle" };

async function readWithIdleTimeout(reader: ReadableStreamDefaultReader<Uint8Array>, idleTimeoutMs: number): Promise<ReadOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<ReadOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "idle" }), idleTimeoutMs);
  });
  const read = reader.read().then(
    (r): ReadOutcome => (r.done ? { kind: "done" } : { kind: "chunk", value: r.value }),
    (): ReadOutcome => ({ kind: "error" }),
  );
  try {
    return await Promise.race([read, idle]);
  } finally {
    clearTimeout(timer);
  }
}

export function meteredStream(source: ReadableStream<Uint8Array>, opts: MeterOptions): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let bytesSent = 0;
  let ended = false;
  const finish = (ending: StreamEnding, failure?: GatewayFailure) => {
    if (ended) return;
    ended = true;
    opts.clientSignal?.removeEventListener("abort", onClientGone);
    opts.onEnd({ ending, bytesSent, failure });
  };
  const abortWith = (controller: ReadableStreamDefaultController<Uint8Array>, failure: GatewayFailure) => {
    reader.cancel().catch(() => {});
    const event = opts.errorEvent(failure);
    bytesSent += event.byteLength;
    controller.enqueue(event);
    controller.close();
    finish("upstream_failed", failure);
  };
  const onClientGone = () => {
    finish("client_aborted");
    reader.cancel().catch(() => {});
  };
  opts.clientSignal?.addEventListener("abort", onClientGone, { once: true });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const outcome = await readWithIdleTimeout(reader, opts.idleTimeoutMs);
        switch (outcome.kind) {
          case "idle":
            return abortWith(controller, fail("upstream_timeout", `upstream sent nothing for ${opts.idleTimeoutMs} ms`));
          case "error":
            return abortWith(controller, fail("upstream_error", "upstream stream broke off"));
          case "done":
            controller.close();
            return finish("complete");
          case "chunk":
            if (bytesSent + outcome.value.byteLength > opts.maxBytes) {
              return abortWith(controller, fail("upstream_response_too_large", "upstream response exceeded the size limit"));
            }
            bytesSent += outcome.value.byteLength;
            controller.enqueue(outcome.value);
        }
      },
      cancel(reason) {
        finish("client_aborted");
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
