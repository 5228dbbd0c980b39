// Request signing on the external channel through the real Worker: clock window, header shapes, tampering, canonical query, rotation.
import { env, SELF } from "cloudflare:test";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { clearConfigCache } from "../../src/config/store";
import { generateSigningSecret, hashApiKey } from "../../src/security/api-keys";
import { sealSecret } from "../../src/security/secret-box";
import { canonicalRequestFor, computeSignature, randomNonce, signRequest } from "../../src/security/signature";
import { mockPresets, mockScenario, seedKey, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "sec-signing";
const CHAT = "https://gw.test/external/v1/chat/completions";
let key: SeededKey;

const chatBody = (content = "hello signed world") => JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content }] });
const nowSeconds = () => Math.floor(Date.now() / 1000);

function send(headers: Record<string, string>, body: string, url = CHAT, method = "POST") {
  return SELF.fetch(url, { method, headers: { "content-type": "application/json", ...headers }, body: method === "GET" ? undefined : body });
}

/** Headers signed over exactly these parts; `timestamp` may be any text, to sign malformed values too. */
async function signRaw(k: SeededKey, parts: { method?: string; url?: string; body: string; timestamp: string; nonce?: string }) {
  const nonce = parts.nonce ?? randomNonce();
  const canonical = await canonicalRequestFor({ method: parts.method ?? "POST", url: parts.url ?? CHAT, timestamp: parts.timestamp, nonce, body: parts.body });
  return {
    Authorization: `Bearer ${k.apiKey}`,
    "X-Gateway-Timestamp": parts.timestamp,
    "X-Gateway-Nonce": nonce,
    "X-Gateway-Signature": `v1=${await computeSignature(k.signingSecret, canonical)}`,
  };
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect({ status: res.status, code: JSON.parse(text).error?.code }, text).toEqual({ status, code });
}

/** Waits until the current second has just begun, so a timestamp cannot cross a second boundary on its way. */
async function startOfSecond() {
  while (Date.now() % 1000 > 200) await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

// A fresh key per test: the failures one test provokes on purpose would otherwise freeze the key for the next.
beforeEach(async () => {
  key = await seedTenant({ key: { signature: "required" } });
});

describe("a key with signature: required", () => {
  it("accepts a request signed with signRequest (200)", async () => {
    const body = chatBody();
    const res = await send(await signRequest({ key: key.apiKey, secret: key.signingSecret, method: "POST", url: CHAT, body }), body);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).object).toBe("chat.completion");
  });

  it("refuses an unsigned request: 401 missing_signature, with or without the other signing headers", async () => {
    const body = chatBody();
    await expectError(await send({ Authorization: `Bearer ${key.apiKey}` }, body), 401, "missing_signature");
    const { "X-Gateway-Signature": _dropped, ...rest } = await signRaw(key, { body, timestamp: String(nowSeconds()) });
    await expectError(await send(rest, body), 401, "missing_signature");
    await expectError(await send({ ...rest, "X-Gateway-Signature": "" }, body), 401, "missing_signature");
  });

  it("drops any one signed header: 401 with the code of what is missing", async () => {
    const body = chatBody();
    const drop = async (name: string) => {
      const headers: Record<string, string> = await signRaw(key, { body, timestamp: String(nowSeconds()) });
      delete headers[name];
      return send(headers, body);
    };
    await expectError(await drop("Authorization"), 401, "missing_api_key");
    await expectError(await drop("X-Gateway-Timestamp"), 401, "stale_timestamp");
    await expectError(await drop("X-Gateway-Nonce"), 401, "invalid_signature");
    await expectError(await drop("X-Gateway-Signature"), 401, "missing_signature");
  });
});

describe("timestamp window (300 s both ways)", () => {
  it("299 s old and 299 s ahead are accepted; 301 s old and 301 s ahead are 401 stale_timestamp", async () => {
    const body = chatBody();
    const at = (offset: number) => signRequest({ key: key.apiKey, secret: key.signingSecret, method: "POST", url: CHAT, body, now: nowSeconds() + offset });
    expect((await send(await at(-299), body)).status).toBe(200);
    expect((await send(await at(299), body)).status).toBe(200);
    await expectError(await send(await at(-301), body), 401, "stale_timestamp");
    // Crossing into the next second on the way in would make "301 ahead" arrive as 300 ahead.
    await startOfSecond();
    await expectError(await send(await at(301), body), 401, "stale_timestamp");
  });

  it("a correctly signed but malformed timestamp is 401 stale_timestamp (non-numeric, negative, huge, empty, fractional, padded)", async () => {
    const body = chatBody();
    const now = nowSeconds();
    const stamps = ["abc", "-5", `-${now}`, "9".repeat(20), String(Number.MAX_SAFE_INTEGER), "", "1.5e9", `${now}.0`, `0${now}`, "0x10"];
    for (const timestamp of stamps) {
      const res = await send(await signRaw(key, { body, timestamp }), body);
      await expectError(res, 401, "stale_timestamp");
    }
  });
});

describe("malformed signatures are 401 invalid_signature, never 500", () => {
  it("wrong length, upper-case hex, base64, no v1= prefix, another version, sent twice", async () => {
    const body = chatBody();
    const good = await signRaw(key, { body, timestamp: String(nowSeconds()) });
    const hex = good["X-Gateway-Signature"].slice(3);
    const base64 = btoa(String.fromCharCode(...hex.match(/../g)!.map((b) => parseInt(b, 16))));
    const variants = [
      `v1=${hex.slice(0, 63)}`,
      `v1=${hex}0`,
      `v1=${hex}${hex}`,
      `v1=${hex.toUpperCase()}`,
      `v1=${base64}`,
      hex,
      `v2=${hex}`,
      `v1= ${hex}`,
      `v1=${"z".repeat(64)}`,
      `v1=${hex}, v1=${hex}`,
      "v1=",
    ];
    for (const signature of variants) {
      const res = await send({ ...good, "X-Gateway-Nonce": randomNonce(), "X-Gateway-Signature": signature }, body);
      await expectError(res, 401, "invalid_signature");
    }
  });

  it("a bad nonce shape is 401 invalid_signature (too short, too long, other characters)", async () => {
    const body = chatBody();
    for (const nonce of ["short", "x".repeat(65), "has space in it 123", "nonce/with/slashes/123", "ünïcödé-nonce-1234"]) {
      const headers = await signRaw(key, { body, timestamp: String(nowSeconds()), nonce: "placeholder-nonce-000" });
      // Headers must be ByteStrings: non-Latin-1 nonces cannot even be sent, so encode them.
      const sent = /^[\x20-\x7e]*$/.test(nonce) ? nonce : encodeURIComponent(nonce);
      await expectError(await send({ ...headers, "X-Gateway-Nonce": sent }, body), 401, "invalid_signature");
    }
  });
});

describe("every signed part is covered", () => {
  it("a body changed by one byte, or re-serialized as the same JSON, is 401 invalid_signature", async () => {
    const body = chatBody("hello signed world");
    const headers = () => signRaw(key, { body, timestamp: String(nowSeconds()) });
    await expectError(await send(await headers(), chatBody("hello signed worle")), 401, "invalid_signature");
    await expectError(await send(await headers(), JSON.stringify(JSON.parse(body), null, 2)), 401, "invalid_signature");
    await expectError(await send(await headers(), `${body} `), 401, "invalid_signature");
  });

  it("a changed method, path, query, timestamp or nonce is 401", async () => {
    const body = chatBody();
    const ts = nowSeconds();
    const sign = (over: { method?: string; url?: string; timestamp?: string } = {}) => signRaw(key, { body, timestamp: String(ts), ...over });
    await expectError(await send(await sign({ url: "https://gw.test/external/v1/embeddings" }), body), 401, "invalid_signature");
    await expectError(await send(await sign({ method: "PUT" }), body), 401, "invalid_signature");
    await expectError(await send(await sign(), body, `${CHAT}?added=1`), 401, "invalid_signature");
    await expectError(await send(await sign({ url: `${CHAT}?dropped=1` }), body), 401, "invalid_signature");
    await expectError(await send({ ...(await sign()), "X-Gateway-Timestamp": String(ts - 1) }, body), 401, "invalid_signature");
    const headers = await sign();
    const nonce = headers["X-Gateway-Nonce"];
    const flipped = nonce.slice(0, -1) + (nonce.endsWith("A") ? "B" : "A");
    await expectError(await send({ ...headers, "X-Gateway-Nonce": flipped }, body), 401, "invalid_signature");
  });

  // KNOWN BUG (src/pipeline/workflows.ts): validate_request and verify_signature run in one layer and the
  // first failure in list order wins, so a flip that breaks the JSON answers 400 invalid_json/invalid_request
  // to an unauthenticated caller instead of 401 (today 18 of 72 flips are 401). Listing verifySignatureStep
  // before validateRequest in EXTERNAL_WORKFLOW makes the signature's verdict win.
  it("flipping any one byte of the body: every flip is 401 invalid_signature", async () => {
    const body = chatBody();
    const headers = await signRaw(key, { body, timestamp: String(nowSeconds()) });
    const bytes = new TextEncoder().encode(body);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < bytes.length; i++) {
      const flipped = bytes.slice();
      flipped[i]! ^= 0x01;
      const res = await SELF.fetch(CHAT, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: flipped });
      const code = `${res.status} ${((await res.json()) as any).error.code}`;
      outcomes[code] = (outcomes[code] ?? 0) + 1;
    }
    expect(outcomes).toEqual({ "401 invalid_signature": bytes.length });
  });

  it("flipping any one hex digit of the signature: 64 of 64 are 401", async () => {
    const body = chatBody();
    const good = await signRaw(key, { body, timestamp: String(nowSeconds()) });
    const hex = good["X-Gateway-Signature"].slice(3);
    const statuses = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const digit = hex[i] === "0" ? "1" : "0";
        const res = await send({ ...good, "X-Gateway-Signature": `v1=${hex.slice(0, i)}${digit}${hex.slice(i + 1)}` }, body);
        return `${res.status} ${((await res.json()) as any).error.code}`;
      }),
    );
    expect(new Set(statuses)).toEqual(new Set(["401 invalid_signature"]));
  });
});

describe("canonical query", () => {
  it("reordered query parameters still verify (sorted canonical form); a duplicated one does not", async () => {
    const body = chatBody();
    const signedUrl = `${CHAT}?alpha=1&beta=two&gamma=%7E`;
    const headers = () => signRaw(key, { body, url: signedUrl, timestamp: String(nowSeconds()) });
    expect((await send(await headers(), body, `${CHAT}?gamma=~&beta=two&alpha=1`)).status).toBe(200);
    await expectError(await send(await headers(), body, `${CHAT}?alpha=1&alpha=1&beta=two&gamma=%7E`), 401, "invalid_signature");
    await expectError(await send(await headers(), body, `${CHAT}?alpha=1&beta=two&gamma=%7E&gamma=%7E`), 401, "invalid_signature");
  });
});

describe("signing-secret rotation", () => {
  async function rotatedKey(graceUntil: string) {
    const oldSecret = generateSigningSecret();
    const newSecret = generateSigningSecret();
    const tenant = await seedTenant({ key: { signature: "required" } });
    const keyId = `key_rotation_${crypto.randomUUID().slice(0, 8)}`;
    const seeded = await seedKey(tenant.tenantId, {
      id: keyId,
      signature: "required",
      signing_secret_sealed: await sealSecret(env.MASTER_KEY!, newSecret, keyId),
      previous_signing_secret_sealed: await sealSecret(env.MASTER_KEY!, oldSecret, keyId),
      previous_secret_expires_at: graceUntil,
      secret_rotated_at: new Date().toISOString(),
    });
    return { ...seeded, oldSecret, newSecret };
  }

  const call = async (apiKey: string, secret: string) => {
    const body = chatBody();
    return send(await signRequest({ key: apiKey, secret, method: "POST", url: CHAT, body }), body);
  };

  it("accepts the old and the new secret during the grace period, only the new one after it", async () => {
    const k = await rotatedKey(new Date(Date.now() + 3_600_000).toISOString());
    expect((await call(k.apiKey, k.newSecret)).status).toBe(200);
    expect((await call(k.apiKey, k.oldSecret)).status).toBe(200);
    // An unrelated secret is still refused during the grace period.
    await expectError(await call(k.apiKey, generateSigningSecret()), 401, "invalid_signature");

    // The grace period ends: the same record, with its expiry in the past.
    const kvKey = kvKeys.apiKeyByHash(await hashApiKey(k.apiKey));
    const record = (await env.CONFIG_KV.get(kvKey, "json")) as Record<string, unknown>;
    await env.CONFIG_KV.put(kvKey, JSON.stringify({ ...record, previous_secret_expires_at: new Date(Date.now() - 1_000).toISOString(), version: 2 }));
    clearConfigCache();
    expect((await call(k.apiKey, k.newSecret)).status).toBe(200);
    await expectError(await call(k.apiKey, k.oldSecret), 401, "invalid_signature");
  });

  it("a previous secret without an expiry is never accepted", async () => {
    const k = await rotatedKey(new Date(Date.now() + 3_600_000).toISOString());
    const kvKey = kvKeys.apiKeyByHash(await hashApiKey(k.apiKey));
    const { previous_secret_expires_at: _gone, ...record } = (await env.CONFIG_KV.get(kvKey, "json")) as Record<string, unknown>;
    await env.CONFIG_KV.put(kvKey, JSON.stringify({ ...record, version: 2 }));
    clearConfigCache();
    await expectError(await call(k.apiKey, k.oldSecret), 401, "invalid_signature");
    expect((await call(k.apiKey, k.newSecret)).status).toBe(200);
  });
});
