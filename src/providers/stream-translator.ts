// The frame every stream translation runs in: upstream SSE text in, client SSE text out, synchronously,
// one call per network read, so the whole path from the upstream's body to the client's is one stream
// layer (src/upstream/metered-stream.ts) with plain function calls inside it. A translation that finds
// the upstream's answer broken stops and says why (`failure`); the layer around it writes the error event
// in the client's format, once (src/api/stream-errors.ts).
import { fail, type GatewayFailure } from "../errors";
import { SseDecoder, type SseEvent } from "./sse";

export interface SseTranslator {
  /** The next piece of upstream text (any boundaries) -> the client's text for it, possibly empty. */
  push(text: string): string;
  /** The upstream ended: whatever completes the client's stream (e.g. `[DONE]`), or a failure. */
  end(): string;
  /** Set once the translation failed; nothing more is translated after it. */
  readonly failure: GatewayFailure | undefined;
}

export interface StreamSink {
  /** Raw SSE text for the client (already framed). */
  write(sse: string): void;
  /** Ends the translation with this failure; the rest of the upstream is ignored. */
  fail(f: GatewayFailure): void;
  readonly failed: boolean;
}

export interface SseHandlers {
  event(ev: SseEvent, sink: StreamSink): void;
  /** Upstream finished; check that the protocol completed. */
  end(sink: StreamSink): void;
  /** Told once when the translation fails. */
  onError?(f: GatewayFailure): void;
}

/** An SSE translation from event handlers. A bug in a handler fails the stream instead of tearing the response down. */
export function sseTranslator(h: SseHandlers): SseTranslator {
  const decoder = new SseDecoder();
  let out = "";
  let failure: GatewayFailure | undefined;
  const sink: StreamSink = {
    write(sse) {
      if (failure === undefined) out += sse;
    },
    fail(f) {
      if (failure !== undefined) return;
      failure = f;
      h.onError?.(f);
    },
    get failed() {
      return failure !== undefined;
    },
  };
  const run = (events: SseEvent[], final: boolean): string => {
    try {
      for (const ev of events) {
        if (failure !== undefined) break;
        h.event(ev, sink);
      }
      if (final && failure === undefined) h.end(sink);
    } catch (e) {
      sink.fail(fail("internal_error", `stream translation failed: ${e instanceof Error ? e.message : String(e)}`));
    }
    const text = out;
    out = "";
    return text;
  };
  return {
    push: (text) => (failure === undefined ? run(decoder.pushText(text), false) : ""),
    end: () => (failure === undefined ? run(decoder.endText(), true) : ""),
    get failure() {
      return failure;
    },
  };
}

export interface ByteTranslator {
  /** Upstream bytes -> the client's bytes for them (empty when nothing is complete yet). */
  push(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array;
  readonly failure: GatewayFailure | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * Upstream bytes through the stages in order (e.g. Anthropic -> OpenAI -> the client's Anthropic):
 * decoded once, encoded once. The first stage to fail stops the chain; what came before it still goes out.
 */
export function chainTranslators(stages: readonly SseTranslator[]): ByteTranslator {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let failure: GatewayFailure | undefined;
  const through = (text: string, final: boolean): Uint8Array => {
    for (const stage of stages) {
      // What a failing stage wrote before it failed still passes the later ones; a stage is ended only
      // when every stage before it has ended cleanly.
      text = stage.push(text);
      if (final && failure === undefined && stage.failure === undefined) text += stage.end();
      failure ??= stage.failure;
    }
    return text.length === 0 ? EMPTY : encoder.encode(text);
  };
  return {
    push: (chunk) => (failure === undefined ? through(decoder.decode(chunk, { stream: true }), false) : EMPTY),
    end: () => (failure === undefined ? through(decoder.decode(), true) : EMPTY),
    get failure() {
      return failure;
    },
  };
}

/**
 * A chain of translations as a TransformStream, ending a failed one with `errorEvent` and cancelling the
 * upstream: what the gateway's stream layer does, for callers (and tests) that want a stream.
 */
export function translatorStream(stages: readonly SseTranslator[], errorEvent: (f: GatewayFailure) => Uint8Array): TransformStream<Uint8Array, Uint8Array> {
  const chain = chainTranslators(stages);
  const emit = (out: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>, final: boolean) => {
    if (out.byteLength > 0) controller.enqueue(out);
    if (chain.failure === undefined) return;
    controller.enqueue(errorEvent(chain.failure));
    if (!final) controller.terminate();
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => emit(chain.push(chunk), controller, false),
    flush: (controller) => emit(chain.end(), controller, true),
  });
}
