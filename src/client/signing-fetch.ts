// A fetch wrapper that signs every request for the gateway; ships to users, so standard Fetch/WebCrypto only (Node 20+, browsers, Workers).
import { signRequest } from "../security/signature";

export interface SigningFetchOptions {
  apiKey: string;
  signingSecret: string;
  /** The fetch to call after signing; defaults to the global fetch at call time. */
  fetch?: typeof fetch;
}

const BODYLESS = new Set(["GET", "HEAD"]);

function baseUrl(): string | undefined {
  const location = (globalThis as { location?: { href?: string } }).location;
  return location?.href;
}

/**
 * Use as the `fetch` of an SDK:
 *   new OpenAI({ apiKey, baseURL, fetch: createSigningFetch({ apiKey, signingSecret }) })
 * Each call reads the body once (string, bytes, FormData, streams: whatever Request accepts), signs
 * those exact bytes with a fresh nonce and the current time, and sends the bytes themselves, so the
 * body cannot be re-serialised between signing and sending.
 */
export function createSigningFetch(options: SigningFetchOptions): typeof fetch {
  return async function signingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const inner = options.fetch ?? globalThis.fetch;
    const isRequest = typeof Request !== "undefined" && input instanceof Request;
    const url = isRequest ? (input as Request).url : new URL(String(input), baseUrl()).href;
    // Building a Request normalises every body type to bytes and fills in Content-Type (e.g. a multipart boundary).
    // `duplex` lets Node accept a stream body; other runtimes ignore the field.
    const draft = isRequest
      ? new Request((input as Request).clone(), init)
      : new Request(url, { ...init, duplex: "half" } as RequestInit);
    const method = draft.method.toUpperCase();
    const body = BODYLESS.has(method) ? undefined : new Uint8Array(await draft.arrayBuffer());

    const headers = new Headers(draft.headers);
    const signed = await signRequest({ key: options.apiKey, secret: options.signingSecret, method, url, body });
    for (const [name, value] of Object.entries(signed)) headers.set(name, value);

    if (isRequest) return inner(new Request(draft, { headers, body }));
    // Keep the caller's other options (signal, and runtime extras such as an undici dispatcher) untouched.
    return inner(url, { ...init, method, headers, body });
  };
}
