// Helpers shared by the adapters: URLs, headers, upstream error messages, and the SSE transform frame.
import { ERROR_KINDS, fail, type GatewayFailure } from "../errors";
import { SseDecoder, type SseEvent } from "./sse";
import type { TokenUsage } from "./types";

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

export function jsonHeaders(stream: boolean): Record<string, string> {
  return { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" };
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

/** OpenAI-style usage object (also what Azure sends) -> TokenUsage, or undefined when absent. */
export function openAIUsage(x: unknown): TokenUsage | undefined {
  if (!isRecord(x)) return undefined;
  return { inputTokens: num(x.prompt_tokens), outputTokens: num(x.completion_tokens) };
}

const SECRET_LIKE = /\b(?:sk|pk|rk)-[A-Za-z0-9_*-]{6,}|\bBearer\s+\S+|\b[A-Za-z0-9_*+/=-]{40,}/g;
const MAX_MESSAGE = 500;

/** Strips anything that looks like a key (providers echo masked keys, e.g. "Incorrect API key provided: sk-ab***yz"). */
export function redact(message: string): string {
  const clean = message.replace(SECRET_LIKE, "[redacted]");
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE)}...` : clean;
}

/**
 * Upstream error body -> a message safe to show the client. OpenAI, Azure and Anthropic all put it at
 * `error.message`. A 401 never says why: it is about the gateway's credential, not the client's.
 */
export function upstreamErrorMessage(provider: string, status: number, bodyText: string): string {
  if (status === 401) return `${provider} rejected the gateway's upstream credential (HTTP 401)`;
  let message: string | undefined;
  try {
    const json: unknown = JSON.parse(bodyText);
    if (isRecord(json)) {
      const err = json.error;
      if (isRecord(err) && typeof err.message === "string") message = err.message;
      else if (typeof err === "string") message = err;
      else if (typeof json.message === "string") message = json.message;
    }
  } catch {
    // Not JSON (an HTML page from a proxy, say): do not echo it.
  }
  return message ? `${provider}: ${redact(message)}` : `${provider} returned HTTP ${status}`;
}

/** The OpenAI-shaped error body the gateway uses everywhere, as a stream event payload. */
export function openAIErrorData(f: GatewayFailure): string {
  return JSON.stringify({ error: { message: f.message, type: ERROR_KINDS[f.kind].type, code: f.kind, param: f.param ?? null } });
}

export interface StreamSink {
  /** Raw SSE text for the client (already framed). */
  write(sse: string): void;
  /** Ends the translation: the error event goes to the client, the caller hears of it, the rest is ignored. */
  fail(f: GatewayFailure): void;
  readonly failed: boolean;
}

export interface SseHandlers {
  event(ev: SseEvent, sink: StreamSink): void;
  /** Upstream finished; check that the protocol completed. */
  end(sink: StreamSink): void;
  /** How a failure is framed for this client format. */
  formatError(f: GatewayFailure): string;
  onError?(f: GatewayFailure): void;
}

const encoder = new TextEncoder();

/**
 * Upstream SSE bytes -> client SSE bytes through event handlers, one output chunk per input chunk.
 * A bug in a handler ends the stream with an error event rather than tearing the response down.
 */
export function sseTransform(h: SseHandlers): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new SseDecoder();
  let out = "";
  let failed = false;
  const sink: StreamSink = {
    write(sse) {
      if (!failed) out += sse;
    },
    fail(f) {
      if (failed) return;
      failed = true;
      out += h.formatError(f);
      h.onError?.(f);
    },
    get failed() {
      return failed;
    },
  };
  const run = (events: SseEvent[], controller: TransformStreamDefaultController<Uint8Array>, final: boolean) => {
    try {
      for (const ev of events) {
        if (failed) break;
        h.event(ev, sink);
      }
      if (final && !failed) h.end(sink);
    } catch (e) {
      sink.fail(fail("internal_error", `stream translation failed: ${e instanceof Error ? e.message : String(e)}`));
    }
    if (out.length > 0) {
      controller.enqueue(encoder.encode(out));
      out = "";
    }
    // Stop reading the upstream once the client has its error event.
    if (failed && !final) controller.terminate();
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (!failed) run(decoder.push(chunk), controller, false);
    },
    flush(controller) {
      if (!failed) run(decoder.end(), controller, true);
    },
  });
}

export function parseJsonEvent(ev: SseEvent, sink: StreamSink): Record<string, unknown> | undefined {
  if (ev.malformed) {
    sink.fail(fail("upstream_bad_response", `upstream stream is malformed: ${ev.data}`));
    return undefined;
  }
  try {
    const json: unknown = JSON.parse(ev.data);
    if (isRecord(json)) return json;
  } catch {
    // fall through
  }
  sink.fail(fail("upstream_bad_response", "upstream sent a stream event that is not a JSON object"));
  return undefined;
}

export function truncatedStream(): GatewayFailure {
  return fail("upstream_bad_response", "upstream stream ended before the response was complete");
}
