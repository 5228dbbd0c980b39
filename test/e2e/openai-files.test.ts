// End to end in Node: the official `openai` client's Files API against the local stack (`npm start`'s),
// on both channels and with a signing client whose multipart body is signed as sent.
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigningFetch } from "../../src/client/signing-fetch";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";

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

const input = [1, 2, 3].map((i) => JSON.stringify({ custom_id: `r${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "mock-openai-chat", messages: [{ role: "user", content: `line ${i}` }] } })).join("\n") + "\n";

describe.each(["external", "internal", "signed"] as const)("the openai client's files API (%s)", (which) => {
  it("files.create, retrieve, list, content and delete", async () => {
    const client = clients[which];
    const file = await client.files.create({ file: await toFile(Buffer.from(input), "prompts.jsonl"), purpose: "batch" });
    expect(file).toMatchObject({ object: "file", bytes: Buffer.byteLength(input), filename: "prompts.jsonl", purpose: "batch" });
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);
    const ids: string[] = [];
    for await (const f of client.files.list()) ids.push(f.id);
    expect(ids).toContain(file.id);
    expect(await (await client.files.content(file.id)).text()).toBe(input);
    expect(await client.files.delete(file.id)).toMatchObject({ id: file.id, deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it("a file that is not JSONL is refused with a 400 naming the line", async () => {
    await expect(clients[which].files.create({ file: await toFile(Buffer.from('{"a":1}\n[oops\n'), "bad.jsonl"), purpose: "batch" })).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Line 2") });
  });
});
