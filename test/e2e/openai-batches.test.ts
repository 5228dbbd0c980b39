// End to end in Node: the official `openai` client's Batch API against the local stack (`npm start`'s):
// files.create, batches.create, batches.retrieve, batches.list, batches.cancel and files.content, unmodified,
// on both channels and with a signing client.
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigningFetch } from "../../src/client/signing-fetch";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
import { waitFor } from "../fixtures/wait";

interface Credentials {
  external: { base_url: string; api_key: string };
  external_signed: { base_url: string; api_key: string; signing_secret: string };
  internal: { base_url: string; token: string };
}

let stack: { credentials: Credentials; stop: () => Promise<void> };
let clients: Record<"external" | "internal" | "signed", OpenAI>;

beforeAll(async () => {
  const port = 18700 + Math.floor(Math.random() * 1000);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-${port}`, quiet: true, log: () => {} });
  const { external, internal, external_signed: s } = stack.credentials;
  clients = {
    external: new OpenAI({ baseURL: external.base_url, apiKey: external.api_key, maxRetries: 0 }),
    internal: new OpenAI({ baseURL: internal.base_url, apiKey: internal.token, maxRetries: 0 }),
    signed: new OpenAI({ baseURL: s.base_url, apiKey: s.api_key, maxRetries: 0, fetch: createSigningFetch({ apiKey: s.api_key, signingSecret: s.signing_secret }) }),
  };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const jsonl = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `${prefix}-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "mock-openai-chat", messages: [{ role: "user", content: `line ${i}` }] } })).join("\n") + "\n";

const FINAL = ["completed", "cancelled", "expired", "failed"];

describe.each(["external", "internal", "signed"] as const)("the openai client's batch API (%s)", (which) => {
  it("files.create, batches.create, retrieve until completed, list, and files.content of the output", async () => {
    const client = clients[which];
    const input = await client.files.create({ file: await toFile(Buffer.from(jsonl(3, which)), "prompts.jsonl"), purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { run: which } });
    expect(batch).toMatchObject({ object: "batch", input_file_id: input.id, endpoint: "/v1/chat/completions", metadata: { run: which } });
    const done = await waitFor(`batch ${batch.id}`, async () => {
      const b = await client.batches.retrieve(batch.id);
      return FINAL.includes(b.status) ? b : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const ids: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) ids.push(b.id);
    expect(ids).toContain(batch.id);
    const output = (await (await client.files.content(done.output_file_id!)).text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(output.map((l) => l.custom_id).sort()).toEqual([0, 1, 2].map((i) => `${which}-${i}`));
    for (const line of output) expect(line).toMatchObject({ error: null, response: { status_code: 200, body: { object: "chat.completion" } } });
  });

  it("batches.cancel: cancelling, then cancelled; another caller's id is a 404", async () => {
    const client = clients[which];
    const input = await client.files.create({ file: await toFile(Buffer.from(jsonl(200, `${which}-c`)), "many.jsonl"), purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const cancelled = await client.batches.cancel(batch.id);
    expect(["cancelling", "cancelled", "completed"]).toContain(cancelled.status);
    const done = await waitFor(`batch ${batch.id} to end`, async () => {
      const b = await client.batches.retrieve(batch.id);
      return FINAL.includes(b.status) ? b : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(["cancelled", "completed"]).toContain(done.status);
    const other = which === "internal" ? clients.external : clients.internal;
    await expect(other.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
  });
});
