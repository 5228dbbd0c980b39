// The Files API through the real Worker and a real (local) R2 bucket: streamed uploads on both channels,
// owner isolation, signed uploads whose tampered body leaves nothing behind, JSONL and size refusals.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../src/security/signature";
import { seedService, seedTenant, type SeededKey } from "../fixtures/seed";

const BASE = "https://gateway.test";
const line = (i: number) => JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `hello ${i}` }] } });
const jsonl = (n: number) => Array.from({ length: n }, (_, i) => line(i)).join("\n") + "\n";

/** The exact multipart bytes a client would send (so a signature can cover them), and their content type. */
async function multipart(content: string | Uint8Array, purpose = "batch", filename = "input.jsonl"): Promise<{ body: Uint8Array; contentType: string }> {
  const form = new FormData();
  form.append("purpose", purpose);
  form.append("file", new File([content], filename, { type: "application/jsonl" }));
  const request = new Request(BASE, { method: "POST", body: form });
  return { body: new Uint8Array(await request.arrayBuffer()), contentType: request.headers.get("content-type")! };
}

async function upload(path: string, auth: Record<string, string>, content: string | Uint8Array, purpose = "batch") {
  const { body, contentType } = await multipart(content, purpose);
  return SELF.fetch(`${BASE}${path}/files`, { method: "POST", headers: { ...auth, "content-type": contentType }, body });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ext = (k: SeededKey) => bearer(k.apiKey);

/** Every object (committed file) the bucket holds for an owner. */
async function objectsOf(ownerPrefix: string): Promise<string[]> {
  const listed = await env.FILES_BUCKET.list({ prefix: `files/${encodeURIComponent(ownerPrefix)}/` });
  return listed.objects.map((o) => o.key);
}

let a: SeededKey;
let b: SeededKey;
let signed: SeededKey;
let service: { serviceId: string; token: string };

beforeAll(async () => {
  [a, b, signed, service] = await Promise.all([seedTenant(), seedTenant(), seedTenant({ key: { signature: "required" } }), seedService()]);
});

describe("Files: owner isolation (attack)", () => {
  it("tenant B can neither see, read nor delete tenant A's file; a service cannot either", async () => {
    const created = await upload("/external/v1", ext(a), jsonl(3));
    expect(created.status).toBe(200);
    const file = (await created.json()) as { id: string };
    for (const [path, auth] of [["/external/v1", ext(b)], ["/internal/v1", bearer(service.token)]] as const) {
      expect((await SELF.fetch(`${BASE}${path}/files/${file.id}`, { headers: auth })).status).toBe(404);
      expect((await SELF.fetch(`${BASE}${path}/files/${file.id}/content`, { headers: auth })).status).toBe(404);
      expect((await SELF.fetch(`${BASE}${path}/files/${file.id}`, { method: "DELETE", headers: auth })).status).toBe(404);
      const list = (await (await SELF.fetch(`${BASE}${path}/files`, { headers: auth })).json()) as { data: { id: string }[] };
      expect(list.data.map((f) => f.id)).not.toContain(file.id);
    }
    // Still there for its owner.
    expect((await SELF.fetch(`${BASE}/external/v1/files/${file.id}/content`, { headers: ext(a) })).status).toBe(200);
  });
});

describe("Files: the OpenAI file API on both channels", () => {
  it("uploads, lists, reads back byte for byte and deletes (external)", async () => {
    const content = jsonl(5);
    const reply = await upload("/external/v1", ext(a), content);
    const file = (await reply.json()) as Record<string, unknown>;
    expect(file).toMatchObject({ object: "file", bytes: new TextEncoder().encode(content).length, filename: "input.jsonl", purpose: "batch", status: "processed" });
    expect(String(file.id)).toMatch(/^file-/);
    const one = await SELF.fetch(`${BASE}/external/v1/files/${file.id}`, { headers: ext(a) });
    expect(await one.json()).toEqual(file);
    const body = await SELF.fetch(`${BASE}/external/v1/files/${file.id}/content`, { headers: ext(a) });
    expect(await body.text()).toBe(content);
    const list = (await (await SELF.fetch(`${BASE}/external/v1/files?limit=1000`, { headers: ext(a) })).json()) as { object: string; data: { id: string }[]; has_more: boolean };
    expect(list.object).toBe("list");
    expect(list.data.map((f) => f.id)).toContain(file.id);
    const deleted = await SELF.fetch(`${BASE}/external/v1/files/${file.id}`, { method: "DELETE", headers: ext(a) });
    expect(await deleted.json()).toEqual({ id: file.id, object: "file", deleted: true });
    expect((await SELF.fetch(`${BASE}/external/v1/files/${file.id}`, { headers: ext(a) })).status).toBe(404);
  });

  it("pages the list with `after` and `limit`, every file once", async () => {
    const owner = await seedTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(((await (await upload("/external/v1", ext(owner), jsonl(1))).json()) as { id: string }).id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = after ? `?limit=2&after=${after}` : "?limit=2";
      const list = (await (await SELF.fetch(`${BASE}/external/v1/files${query}`, { headers: ext(owner) })).json()) as { data: { id: string }[]; has_more: boolean; last_id: string | null };
      seen.push(...list.data.map((f) => f.id));
      if (!list.has_more) break;
      after = list.last_id;
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it("serves services on /internal/v1, in their own namespace", async () => {
    const reply = await upload("/internal/v1", bearer(service.token), jsonl(2));
    expect(reply.status).toBe(200);
    const file = (await reply.json()) as { id: string };
    expect((await SELF.fetch(`${BASE}/internal/v1/files/${file.id}`, { headers: bearer(service.token) })).status).toBe(200);
    expect(await objectsOf(`svc:${service.serviceId}`)).toContain(`files/${encodeURIComponent(`svc:${service.serviceId}`)}/${file.id}`);
    expect((await upload("/internal/v1", bearer("gst_wrong"), jsonl(1))).status).toBe(401);
  });

  it("streams a file larger than one R2 part (multipart upload) and reads it back whole", async () => {
    const owner = await seedTenant();
    const big = jsonl(45_000); // ~6.9 MB: two parts of R2's multipart upload
    expect(big.length).toBeGreaterThan(5 * 1024 * 1024);
    const file = (await (await upload("/external/v1", ext(owner), big)).json()) as { id: string; bytes: number };
    expect(file.bytes).toBe(big.length);
    const back = await SELF.fetch(`${BASE}/external/v1/files/${file.id}/content`, { headers: ext(owner) });
    expect(await back.text()).toBe(big);
  });
});

describe("Files: refusals leave nothing behind", () => {
  it("a signed upload is accepted; the same upload tampered after signing is refused and nothing is stored", async () => {
    const content = jsonl(4);
    const { body, contentType } = await multipart(content);
    const url = `${BASE}/external/v1/files`;
    const headers = await signRequest({ key: signed.apiKey, secret: signed.signingSecret, method: "POST", url, body });
    const good = await SELF.fetch(url, { method: "POST", headers: { ...headers, "content-type": contentType }, body });
    expect(good.status).toBe(200);
    const kept = (await good.json()) as { id: string };

    const forged = await multipart(content.replace("hello 1", "HELLO 1"));
    const tamperedHeaders = await signRequest({ key: signed.apiKey, secret: signed.signingSecret, method: "POST", url, body });
    const bad = await SELF.fetch(url, { method: "POST", headers: { ...tamperedHeaders, "content-type": forged.contentType }, body: forged.body });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_signature");
    expect(await objectsOf(`ten:${signed.tenantId}`)).toEqual([`files/${encodeURIComponent(`ten:${signed.tenantId}`)}/${kept.id}`]);
    // An unsigned upload by a key that requires signing is refused before a byte is stored.
    expect((await upload("/external/v1", ext(signed), content)).status).toBe(401);
    expect(await objectsOf(`ten:${signed.tenantId}`)).toHaveLength(1);
  });

  it("a tampered signed upload larger than one part leaves no object either", async () => {
    const content = jsonl(45_000);
    const { body, contentType } = await multipart(content);
    const url = `${BASE}/external/v1/files`;
    const headers = await signRequest({ key: signed.apiKey, secret: signed.signingSecret, method: "POST", url, body });
    body[body.length - 100] = body[body.length - 100]! ^ 1; // flip one bit inside the file part
    const before = await objectsOf(`ten:${signed.tenantId}`);
    const bad = await SELF.fetch(url, { method: "POST", headers: { ...headers, "content-type": contentType }, body });
    expect(bad.status).toBe(401);
    expect(await objectsOf(`ten:${signed.tenantId}`)).toEqual(before);
  });

  it("refuses a file that is not JSONL with a 400 naming the line, and stores nothing", async () => {
    const owner = await seedTenant();
    const reply = await upload("/external/v1", ext(owner), `${line(0)}\n${line(1)}\nnot json\n${line(3)}\n`);
    expect(reply.status).toBe(400);
    const error = ((await reply.json()) as { error: { message: string; param: string; trace_id: string } }).error;
    expect(error.message).toContain("Line 3");
    expect(error.param).toBe("file");
    expect(await objectsOf(`ten:${owner.tenantId}`)).toEqual([]);
  });

  it("refuses a purpose other than batch, a non-multipart body and a missing file part", async () => {
    const owner = await seedTenant();
    const wrongPurpose = await upload("/external/v1", ext(owner), jsonl(1), "fine-tune");
    expect(wrongPurpose.status).toBe(400);
    expect(((await wrongPurpose.json()) as { error: { param: string } }).error.param).toBe("purpose");
    const notMultipart = await SELF.fetch(`${BASE}/external/v1/files`, { method: "POST", headers: { ...ext(owner), "content-type": "application/json" }, body: "{}" });
    expect(notMultipart.status).toBe(415);
    const form = new FormData();
    form.append("purpose", "batch");
    const noFile = new Request(BASE, { method: "POST", body: form });
    const reply = await SELF.fetch(`${BASE}/external/v1/files`, { method: "POST", headers: { ...ext(owner), "content-type": noFile.headers.get("content-type")! }, body: await noFile.arrayBuffer() });
    expect(reply.status).toBe(400);
    expect(await objectsOf(`ten:${owner.tenantId}`)).toEqual([]);
  });

  it("refuses a file over MAX_FILE_BYTES with a 413 and stores nothing", async () => {
    const owner = await seedTenant();
    const max = Number(env.MAX_FILE_BYTES);
    const reply = await upload("/external/v1", ext(owner), jsonl(Math.ceil(max / line(0).length) + 10));
    expect(reply.status).toBe(413);
    expect(await objectsOf(`ten:${owner.tenantId}`)).toEqual([]);
  });
});
