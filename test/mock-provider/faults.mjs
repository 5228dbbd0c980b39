// Sends a rendered answer over the socket, applying a scenario's pacing (chunk_delay_ms) and faults.
import { ID, fillerText } from "./content.mjs";

/**
 * A provider answer rendered once per distinct request body and cached; every string may hold the
 * ID placeholder, replaced per request.
 * @typedef {object} Rendered
 * @property {number} status
 * @property {boolean} stream
 * @property {string} contentType
 * @property {string} body the whole body (for a stream: all frames joined)
 * @property {string[]} [bodyParts] `body` split at the ID placeholder, filled in on first send
 * @property {string[]} pre stream frames before the content chunks (role chunk, message_start ...)
 * @property {string[]} chunks one frame per content chunk
 * @property {string[]} post frames after the content (finish, usage, [DONE] / message_stop)
 * @property {(text: string) => string} frame a content frame carrying `text` (oversized / endless streams)
 * @property {string} garbage what malformed_sse injects into a stream, or the truncated JSON body
 * @property {() => { head: string, tail: string, fill: (bytes: number) => string }} around
 *   a non-stream body split around its content, for oversized / endless JSON bodies
 */

export const DEFAULT_OVERSIZED_BYTES = 20 * 1024 * 1024;
const DEFAULT_FAULT_AFTER_CHUNKS = 2;
const DEFAULT_DRIP_MS = 100;
const DEFAULT_IDLE_GAP_MS = 5000;
const BIG_PIECE = 64 * 1024;
const STREAM_PIECE = 16 * 1024;

/** Tracks whether the client went away, so sleeps and writes stop instead of piling up. */
export class Line {
  /** @param {import("node:http").ServerResponse} res */
  constructor(res) {
    this.res = res;
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {(() => void) | null} */
    this.wake = null;
    res.once("close", () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.wake?.();
    });
  }

  /** @param {number} ms */
  sleep(ms) {
    if (this.closed || !(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => { this.wake = null; resolve(); };
      this.timer = setTimeout(() => { this.timer = null; this.wake?.(); }, ms);
    });
  }

  /** Writes and waits for the socket to take the data (so a following reset comes after it). @param {string | Uint8Array} data */
  write(data) {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => { this.wake = null; resolve(); };
      this.res.write(data, () => this.wake?.());
    });
  }
}

/** @param {string} s @param {string} id */
const fill = (s, id) => (s.includes(ID) ? s.split(ID).join(id) : s);

/**
 * @param {import("node:http").ServerResponse} res
 * @param {Record<string, string | number>} headers
 * @param {string} body
 */
export function sendJson(res, status, headers, body) {
  headers["content-type"] = "application/json";
  headers["content-length"] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * @param {import("node:http").ServerResponse} res @param {Rendered} r @param {string} id
 * @param {Record<string, any>} s scenario settings @param {Record<string, string | number>} headers
 */
export async function deliver(res, r, id, s, headers) {
  const fault = s.fault;
  const paced = r.stream && s.chunk_delay_ms > 0;
  headers["content-type"] = r.contentType;
  if (r.stream) headers["cache-control"] = "no-cache";
  if (!paced && (fault === undefined || fault === "no_usage" || fault === "tool_call")) {
    // Split once per cached answer: the hot path of load tests is then one join.
    const parts = (r.bodyParts ??= r.body.split(ID));
    const body = parts.length === 1 ? r.body : parts.join(id);
    if (!r.stream) headers["content-length"] = Buffer.byteLength(body);
    res.writeHead(r.status, headers);
    res.end(body);
    return;
  }
  const line = new Line(res);
  const after = s.fault_after_chunks ?? DEFAULT_FAULT_AFTER_CHUNKS;
  switch (fault) {
    case "slow_drip": return drip(line, headers, r, id, s.drip_ms ?? DEFAULT_DRIP_MS);
    case "oversized": return huge(line, headers, r, id, s.oversized_bytes ?? DEFAULT_OVERSIZED_BYTES, s.chunk_delay_ms ?? 0);
    case "endless": return huge(line, headers, r, id, Infinity, s.chunk_delay_ms ?? 0);
    case "malformed_sse":
      if (!r.stream) return sendJson(res, r.status, headers, fill(r.garbage, id));
      return frames(line, headers, r, id, s.chunk_delay_ms ?? 0, Math.min(1, r.chunks.length), async () => { await line.write(r.garbage); return true; });
    case "reset_mid_stream":
      if (!r.stream) return halves(line, headers, r, id, async () => { res.socket?.destroy(); return false; });
      return frames(line, headers, r, id, s.chunk_delay_ms ?? 0, after, async () => { res.socket?.destroy(); return false; });
    case "idle_gap": {
      const gap = async () => { await line.sleep(s.idle_gap_ms ?? DEFAULT_IDLE_GAP_MS); return true; };
      if (!r.stream) return halves(line, headers, r, id, gap);
      return frames(line, headers, r, id, s.chunk_delay_ms ?? 0, after, gap);
    }
    default: return frames(line, headers, r, id, s.chunk_delay_ms ?? 0, Infinity, async () => true);
  }
}

/**
 * Writes a stream frame by frame; after `at` content chunks runs `hook`, which says whether to go on.
 * @param {Line} line @param {Record<string, string | number>} headers @param {Rendered} r @param {string} id
 * @param {number} delay @param {number} at @param {() => Promise<boolean>} hook
 */
async function frames(line, headers, r, id, delay, at, hook) {
  line.res.writeHead(r.status, headers);
  const all = [...r.pre, ...r.chunks, ...r.post];
  const cut = r.pre.length + Math.min(at, r.chunks.length);
  for (let i = 0; i <= all.length && !line.closed; i++) {
    if (i === cut && !(await hook())) return;
    if (i === all.length) break;
    if (i > 0) await line.sleep(delay);
    await line.write(fill(/** @type {string} */ (all[i]), id));
  }
  line.res.end();
}

/**
 * Non-stream bodies: sends the first half (with the full content-length declared), runs `hook`, then the rest.
 * @param {Line} line @param {Record<string, string | number>} headers @param {Rendered} r @param {string} id
 * @param {() => Promise<boolean>} hook
 */
async function halves(line, headers, r, id, hook) {
  const body = Buffer.from(fill(r.body, id));
  headers["content-length"] = body.length;
  line.res.writeHead(r.status, headers);
  const mid = Math.floor(body.length / 2);
  await line.write(body.subarray(0, mid));
  if (line.closed || !(await hook()) || line.closed) return;
  line.res.end(body.subarray(mid));
}

/**
 * One byte every `ms`, headers first (with content-length for JSON bodies).
 * @param {Line} line @param {Record<string, string | number>} headers @param {Rendered} r @param {string} id @param {number} ms
 */
async function drip(line, headers, r, id, ms) {
  const body = Buffer.from(fill(r.body, id));
  if (!r.stream) headers["content-length"] = body.length;
  line.res.writeHead(r.status, headers);
  line.res.flushHeaders();
  for (let i = 0; i < body.length && !line.closed; i++) {
    await line.write(body.subarray(i, i + 1));
    await line.sleep(ms);
  }
  if (!line.closed) line.res.end();
}

/**
 * A body of at least `bytes` bytes (or without end), streamed without content-length; a stream stays
 * well-formed SSE and ends normally once past the size, a JSON body stays valid JSON.
 * @param {Line} line @param {Record<string, string | number>} headers @param {Rendered} r @param {string} id
 * @param {number} bytes @param {number} delay
 */
async function huge(line, headers, r, id, bytes, delay) {
  line.res.writeHead(r.status, headers);
  let head, tail, piece;
  if (r.stream) {
    head = r.pre.join("");
    tail = r.post.join("");
    piece = r.frame(fillerText(STREAM_PIECE));
  } else {
    const parts = r.around();
    head = parts.head;
    tail = parts.tail;
    piece = parts.fill(BIG_PIECE);
  }
  head = fill(head, id);
  piece = fill(piece, id);
  let sent = Buffer.byteLength(head);
  await line.write(head);
  const pieceBytes = Buffer.byteLength(piece);
  for (let n = 0; sent < bytes && !line.closed; n++) {
    if (delay > 0) await line.sleep(delay);
    // Writes the kernel takes at once call back on the next tick; yield so other sockets get a turn.
    else if (n % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    await line.write(piece);
    sent += pieceBytes;
  }
  if (!line.closed) line.res.end(fill(tail, id));
}
