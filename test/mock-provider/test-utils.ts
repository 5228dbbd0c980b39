// Shared helpers for the mock provider's own tests: a typed start function, request builders, SSE parsing.
// @ts-expect-error plain ESM module without types
import { startMockProvider as start } from "./server.mjs";

export interface MockProvider {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const startMockProvider: (options?: { port?: number; host?: string; apiKey?: string }) => Promise<MockProvider> = start;

export const KEY = "mock-upstream-key";

// Responses are checked field by field; a loose type keeps the assertions readable.
export type Json = any;

export interface Target {
  url: string;
  scenario?: string;
}

const prefix = (t: Target) => (t.scenario ? `${t.url}/s/${t.scenario}` : t.url);

export function openai(t: Target, body: unknown, path = "/v1/chat/completions", headers: Record<string, string> = {}) {
  return fetch(`${prefix(t)}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

export function anthropic(t: Target, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${prefix(t)}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

export function azure(t: Target, deployment: string, op: "chat/completions" | "embeddings", body: unknown, query = "?api-version=2024-10-21") {
  return fetch(`${prefix(t)}/openai/deployments/${deployment}/${op}${query}`, {
    method: "POST",
    headers: { "api-key": KEY, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

export async function setScenario(url: string, name: string, settings: Record<string, unknown>) {
  const res = await fetch(`${url}/__mock/scenarios/${name}`, { method: "PUT", body: JSON.stringify(settings) });
  if (!res.ok) throw new Error(`PUT scenario ${name}: ${res.status} ${await res.text()}`);
}

export async function requestLog(url: string, name: string): Promise<Json> {
  return (await fetch(`${url}/__mock/scenarios/${name}/requests`)).json();
}

export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into events: `event:` and joined `data:` lines per blank-line-separated block. */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    out.push({ event, data: data.join("\n") });
  }
  return out;
}

/** The JSON payloads of an OpenAI stream, without the final [DONE]. */
export function openaiChunks(text: string): Json[] {
  const events = parseSse(text);
  if (events.at(-1)?.data !== "[DONE]") throw new Error("stream does not end with [DONE]");
  return events.slice(0, -1).map((e) => JSON.parse(e.data));
}

/** Reads a body chunk by chunk until it ends, errors or `limit` bytes arrived (then cancels). */
export async function readUntil(res: Response, limit = Infinity) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  const arrivals: number[] = [];
  let error: unknown = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
      arrivals.push(Date.now());
      if (bytes >= limit) {
        await reader.cancel();
        return { text, bytes, arrivals, error, ended: false };
      }
    }
  } catch (err) {
    error = err;
    return { text, bytes, arrivals, error, ended: false };
  }
  return { text, bytes, arrivals, error, ended: true };
}

export const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
