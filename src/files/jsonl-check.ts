// Checks a batch input file line by line as it streams: every non-empty line one JSON object, none
// longer than a request may be. Only the current line is held, never the file.
import { fail, type GatewayFailure } from "../errors";

export class JsonlCheck {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  private partial = "";
  /** Lines seen so far (1-based number of the line being read). */
  lines = 0;
  /** Non-empty lines: the requests a batch of this file would run. */
  requests = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Feeds a chunk; a failure names the line (1-based) that broke the format. */
  push(chunk: Uint8Array): GatewayFailure | undefined {
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      return this.refuse("is not UTF-8", this.lines + 1);
    }
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      const refused = this.line(this.partial + text.slice(start, nl));
      if (refused) return refused;
      this.partial = "";
      start = nl + 1;
    }
    this.partial += text.slice(start);
    // UTF-16 length bounds the UTF-8 length from below, so this never refuses a line within the limit.
    if (this.partial.length > this.maxLineBytes) return this.refuse(`is longer than ${this.maxLineBytes} bytes`, this.lines + 1);
    return undefined;
  }

  /** The end of the file: the last line need not end with a newline. */
  end(): GatewayFailure | undefined {
    try {
      this.partial += this.decoder.decode();
    } catch {
      return this.refuse("is not UTF-8", this.lines + 1);
    }
    if (this.partial !== "") return this.line(this.partial);
    if (this.requests === 0) return fail("invalid_request", "The file has no lines: a batch input file is JSONL, one request per line.", { param: "file" });
    return undefined;
  }

  private line(raw: string): GatewayFailure | undefined {
    this.lines += 1;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return undefined;
    if (new TextEncoder().encode(line).length > this.maxLineBytes) return this.refuse(`is longer than ${this.maxLineBytes} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return this.refuse("is not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return this.refuse("is not a JSON object");
    this.requests += 1;
    return undefined;
  }

  private refuse(why: string, line = this.lines): GatewayFailure {
    return fail("invalid_request", `Line ${line} of the file ${why}: a batch input file is JSONL, one JSON object per line.`, { param: "file" });
  }
}
