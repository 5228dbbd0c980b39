// The client helper: whatever the caller passes to fetch, what goes out verifies at the gateway byte for byte.
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { canonicalRequestFor, parseSignatureHeaders, verifySignature } from "../security/signature";
import { createSigningFetch } from "./signing-fetch";

const API_KEY = "gk_4Qm8rJd2VxN7pLs0Tb5WcYhEa3Kf9GgZ1uXi6o";
const SECRET = "gss_7fK2pQ9xLm4Vb8Nc1Rz6Ty3Hw5Js0Dg2Ea7Ub4Mq9Xo";
const BASE = "https://gateway.example.com";

interface Seen {
  request: Request;
  body: Uint8Array;
  verified: boolean | string;
}

/** Plays the gateway: rebuilds the request it would receive and verifies it like the auth step will. */
function gateway(respond: (seen: Seen) => Response = () => new Response("ok")) {
  const seen: Seen[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input as RequestInfo, init);
    const body = new Uint8Array(await request.clone().arrayBuffer());
    const read = parseSignatureHeaders(request.headers, Math.floor(Date.now() / 1000));
    let verified: boolean | string;
    if (!read.ok) verified = read.failure.kind;
    else {
      const parsed = read.value;
      const canonical = await canonicalRequestFor({ method: request.method, url: request.url, timestamp: parsed.timestamp, nonce: parsed.nonce, body });
      verified = await verifySignature(SECRET, canonical, parsed.signatureHex);
    }
    const entry = { request, body, verified };
    seen.push(entry);
    return respond(entry);
  };
  return { seen, fetch: createSigningFetch({ apiKey: API_KEY, signingSecret: SECRET, fetch: fetchImpl as typeof fetch }) };
}

describe("createSigningFetch", () => {
  it("signs string, Uint8Array, ArrayBuffer and absent bodies", async () => {
    const gw = gateway();
    const text = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hé" }] });
    await gw.fetch(`${BASE}/v1/chat/completions`, { method: "POST", body: text, headers: { "content-type": "application/json" } });
    await gw.fetch(`${BASE}/v1/embeddings`, { method: "POST", body: new TextEncoder().encode(text) });
    await gw.fetch(`${BASE}/v1/embeddings`, { method: "POST", body: new TextEncoder().encode(text).buffer as ArrayBuffer });
    await gw.fetch(`${BASE}/v1/models?b=2&a=1`);
    await gw.fetch(new URL(`${BASE}/v1/models/x`), { method: "DELETE" });
    expect(gw.seen.map((s) => s.verified)).toEqual([true, true, true, true, true]);
    expect(new TextDecoder().decode(gw.seen[0]!.body)).toBe(text);
    expect(gw.seen[0]!.request.headers.get("content-type")).toBe("application/json");
    expect(gw.seen[3]!.body).toHaveLength(0);
    expect(gw.seen[4]!.request.method).toBe("DELETE");
  });

  it("signs Request objects, with and without an init override", async () => {
    const gw = gateway();
    await gw.fetch(new Request(`${BASE}/v1/completions`, { method: "POST", body: "prompt", headers: { "x-extra": "1" } }));
    await gw.fetch(new Request(`${BASE}/v1/completions`, { method: "POST", body: "old" }), { body: "new", method: "PUT" });
    await gw.fetch(new Request(`${BASE}/v1/models`));
    expect(gw.seen.map((s) => s.verified)).toEqual([true, true, true]);
    expect(gw.seen[0]!.request.headers.get("x-extra")).toBe("1");
    expect(new TextDecoder().decode(gw.seen[1]!.body)).toBe("new");
    expect(gw.seen[1]!.request.method).toBe("PUT");
  });

  it("reads stream and FormData bodies once and sends the exact bytes it signed", async () => {
    const gw = gateway();
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("part one, "));
        c.enqueue(new TextEncoder().encode("part two"));
        c.close();
      },
    });
    await gw.fetch(`${BASE}/v1/files`, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob(["line\n"]), "a.jsonl");
    await gw.fetch(`${BASE}/v1/files`, { method: "POST", body: form });
    expect(gw.seen.map((s) => s.verified)).toEqual([true, true]);
    expect(new TextDecoder().decode(gw.seen[0]!.body)).toBe("part one, part two");
    expect(gw.seen[1]!.request.headers.get("content-type")).toMatch(/^multipart\/form-data; boundary=/);
  });

  it("replaces any Authorization header with the key and uses a fresh nonce per call", async () => {
    const gw = gateway();
    await gw.fetch(`${BASE}/v1/models`, { headers: { Authorization: "Bearer something-else" } });
    await gw.fetch(`${BASE}/v1/models`);
    expect(gw.seen[0]!.request.headers.get("authorization")).toBe(`Bearer ${API_KEY}`);
    const nonces = gw.seen.map((s) => s.request.headers.get("x-gateway-nonce"));
    expect(nonces[0]).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(nonces[0]).not.toBe(nonces[1]);
    const stamp = Number(gw.seen[0]!.request.headers.get("x-gateway-timestamp"));
    expect(Math.abs(stamp - Date.now() / 1000)).toBeLessThan(5);
  });

  it("works as the fetch of the OpenAI SDK", async () => {
    const gw = gateway(
      () =>
        new Response(
          JSON.stringify({
            id: "chatcmpl-1",
            object: "chat.completion",
            created: 1,
            model: "gpt-4o-mini",
            choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop", logprobs: null }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
          { headers: { "content-type": "application/json" } },
        ),
    );
    const client = new OpenAI({ apiKey: API_KEY, baseURL: `${BASE}/v1`, fetch: gw.fetch, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
    expect(completion.choices[0]!.message.content).toBe("hi");
    expect(gw.seen).toHaveLength(1);
    expect(gw.seen[0]!.verified).toBe(true);
    expect(gw.seen[0]!.request.url).toBe(`${BASE}/v1/chat/completions`);
    expect(JSON.parse(new TextDecoder().decode(gw.seen[0]!.body))).toMatchObject({ model: "gpt-4o-mini" });
  });

  it("a body altered after signing fails at the gateway (the check is real)", async () => {
    const seen: boolean[] = [];
    const tamper = createSigningFetch({
      apiKey: API_KEY,
      signingSecret: SECRET,
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input as RequestInfo, { ...init, body: "tampered" });
        const read = parseSignatureHeaders(request.headers, Math.floor(Date.now() / 1000));
        if (!read.ok) throw new Error(read.failure.kind);
        const parsed = read.value;
        const canonical = await canonicalRequestFor({ method: request.method, url: request.url, timestamp: parsed.timestamp, nonce: parsed.nonce, body: await request.text() });
        seen.push(await verifySignature(SECRET, canonical, parsed.signatureHex));
        return new Response("ok");
      }) as typeof fetch,
    });
    await tamper(`${BASE}/v1/completions`, { method: "POST", body: "original" });
    expect(seen).toEqual([false]);
  });
});
