// The end of one request, declared once: whichever comes first of the body ending, the body being
// cancelled, the client's signal aborting or the stream's idle deadline passing settles it; later
// reports are ignored. The workflow's completion list waits on it (completion.ts).
import type { GatewayFailure } from "../errors";

/** How a response body ended: "complete" the whole body went out; "client_aborted" the client left or stopped reading; "upstream_failed" it broke mid-way. */
export type EndingKind = "complete" | "client_aborted" | "upstream_failed";

export interface RequestEnd {
  ending: EndingKind;
  bytesSent: number;
  failure?: GatewayFailure;
  /** Why the end was declared by the gateway rather than seen (e.g. "idle_deadline"), for the audit flags. */
  flag?: string;
}

export class Ending {
  readonly settled: Promise<RequestEnd & { endedAt: number }>;
  #resolve!: (end: RequestEnd & { endedAt: number }) => void;
  #ended = false;

  constructor() {
    this.settled = new Promise((resolve) => (this.#resolve = resolve));
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Declares the end; true the first time, false (and ignored) afterwards. */
  end(end: RequestEnd): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#resolve({ ...end, endedAt: Date.now() });
    return true;
  }
}
