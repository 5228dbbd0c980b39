// Incremental Server-Sent Events framing: bytes -> events (any chunking, CR/LF/CRLF) and events -> bytes.

export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
  /**
   * Set only by the parser, never from the wire: the input could not be framed. "too_large" means an
   * event or line exceeded `maxEventChars`; the offending event was dropped and `data` says so.
   */
  malformed?: "too_large";
}

export interface SseDecoderOptions {
  /** Upper bound on one event's buffered characters (line + data); protects memory from hostile upstreams. */
  maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 1 << 20;
const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * Push-style decoder, so stream transforms can frame events synchronously without an extra stream hop.
 * Invalid UTF-8 becomes U+FFFD (never throws). At end of input a pending event is still dispatched
 * (some servers omit the final blank line); protocol completeness is the caller's concern.
 */
export class SseDecoder {
  readonly #decoder = new TextDecoder("utf-8");
  readonly #max: number;
  #carry = "";
  #skipLeadingLf = false;
  /** The event's first data line, and the ones after it when there are several. */
  #first = "";
  #more: string[] | undefined;
  #dataChars = 0;
  #hasData = false;
  #event: string | undefined;
  #id: string | undefined;
  #dropping = false;

  constructor(opts: SseDecoderOptions = {}) {
    this.#max = opts.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  }

  push(chunk: Uint8Array): SseEvent[] {
    return this.#feed(this.#decoder.decode(chunk, { stream: true }), false);
  }

  end(): SseEvent[] {
    return this.endText(this.#decoder.decode());
  }

  /** Text already decoded (by a caller that decodes once for several readers). */
  pushText(text: string): SseEvent[] {
    return this.#feed(text, false);
  }

  endText(text = ""): SseEvent[] {
    const out = this.#feed(text, true);
    this.#dispatch(out);
    return out;
  }

  #feed(decoded: string, final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let text = this.#carry.length > 0 ? this.#carry + decoded : decoded;
    this.#carry = "";
    if (this.#skipLeadingLf && text.length > 0) {
      // A CR ended the previous chunk; an LF opening this one belongs to the same line break.
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.#skipLeadingLf = false;
    }
    let start = 0;
    if (text.indexOf("\r") === -1) {
      // LF only (what nearly every server sends): lines found with indexOf, no regex match per line.
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        this.#line(text.slice(start, end), out);
        start = end + 1;
      }
    } else {
      LINE_BREAK.lastIndex = 0;
      for (let m = LINE_BREAK.exec(text); m !== null; m = LINE_BREAK.exec(text)) {
        this.#line(text.slice(start, m.index), out);
        start = m.index + m[0].length;
        if (m[0] === "\r" && start === text.length) this.#skipLeadingLf = true;
      }
    }
    const rest = start === 0 ? text : text.slice(start);
    if (final) {
      if (rest.length > 0) this.#line(rest, out);
    } else if (this.#dropping) {
      // Discard an over-long line as it arrives instead of buffering it.
    } else if (rest.length + this.#dataChars > this.#max) {
      this.#overflow(out);
    } else {
      this.#carry = rest;
    }
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      if (this.#dropping) this.#reset();
      else this.#dispatch(out);
      return;
    }
    if (this.#dropping || line.charCodeAt(0) === 58 /* ":" comment */) return;
    // "data: " opens nearly every line: its value is cut once, without slicing the field name first.
    if (line.startsWith("data: ")) return this.#dataLine(line.slice(6), out);
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "data":
        return this.#dataLine(value, out);
      case "event":
        this.#event = value;
        return;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        return;
      default:
        return; // "retry" and unknown fields are ignored, as the SSE spec says.
    }
  }

  #dataLine(value: string, out: SseEvent[]): void {
    if (this.#dataChars + value.length > this.#max) return this.#overflow(out);
    // One data line (the common case) is kept as it is; only a second one makes the list.
    if (!this.#hasData) this.#first = value;
    else (this.#more ??= []).push(value);
    this.#dataChars += value.length + 1;
    this.#hasData = true;
  }

  #overflow(out: SseEvent[]): void {
    out.push({ data: `SSE event larger than ${this.#max} characters`, malformed: "too_large" });
    this.#reset();
    this.#dropping = true;
  }

  #dispatch(out: SseEvent[]): void {
    if (this.#hasData) {
      const ev: SseEvent = { data: this.#more === undefined ? this.#first : `${this.#first}\n${this.#more.join("\n")}` };
      if (this.#event !== undefined && this.#event !== "") ev.event = this.#event;
      if (this.#id !== undefined) ev.id = this.#id;
      out.push(ev);
    }
    this.#reset();
  }

  #reset(): void {
    this.#first = "";
    this.#more = undefined;
    this.#dataChars = 0;
    this.#hasData = false;
    this.#event = undefined;
    this.#id = undefined;
    this.#dropping = false;
  }
}

/** Bytes -> SSE events. Never errors on bad input: see `SseEvent.malformed`. */
export function createSseParser(opts: SseDecoderOptions = {}): TransformStream<Uint8Array, SseEvent> {
  const decoder = new SseDecoder(opts);
  return new TransformStream<Uint8Array, SseEvent>({
    transform(chunk, controller) {
      for (const ev of decoder.push(chunk)) controller.enqueue(ev);
    },
    flush(controller) {
      for (const ev of decoder.end()) controller.enqueue(ev);
    },
  });
}

const encoder = new TextEncoder();
const NEWLINES = /[\r\n]/g;

/** One event as wire bytes. Line breaks in `event`/`id` are removed so they cannot inject fields. */
export function encodeSse(ev: Pick<SseEvent, "event" | "data" | "id">): Uint8Array {
  return encoder.encode(formatSse(ev));
}

export function formatSse(ev: Pick<SseEvent, "event" | "data" | "id">): string {
  let s = "";
  if (ev.event !== undefined) s += `event: ${ev.event.replace(NEWLINES, "")}\n`;
  if (ev.id !== undefined) s += `id: ${ev.id.replace(NEWLINES, "")}\n`;
  // Fast path: JSON payloads have no raw line breaks.
  if (!ev.data.includes("\n") && !ev.data.includes("\r")) return `${s}data: ${ev.data}\n\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) s += `data: ${line}\n`;
  return `${s}\n`;
}
