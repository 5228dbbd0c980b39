// The signing protocol: canonical form, HMAC, header parsing, and that any change to a signed part fails.
import { describe, expect, it } from "vitest";
import { isWellFormedSigningSecret } from "./api-keys";
import { sha256Hex, toHex } from "./encoding";
import {
  canonicalQuery,
  canonicalRequest,
  canonicalRequestFor,
  computeSignature,
  parseSignatureHeaders,
  signRequest,
  verifySignature,
  type RequestToSign,
} from "./signature";

const KEY = "gk_4Qm8rJd2VxN7pLs0Tb5WcYhEa3Kf9GgZ1uXi6o";
const SECRET = "gss_7fK2pQ9xLm4Vb8Nc1Rz6Ty3Hw5Js0Dg2Ea7Ub4Mq9Xo";
const NOW = 1_750_000_000;
const NONCE = "n0nce_ABCdef-123456";
const BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello, gateway! ünïcødé" }] });
const URL_ = "https://gateway.example.com/v1/chat/completions?stream=false&b=2&a=1";

function headersOf(signed: Record<string, string>, edit: (h: Headers) => void = () => {}): Headers {
  const h = new Headers(signed);
  edit(h);
  return h;
}

/** What the gateway does with a request: parse the headers, rebuild the canonical string, verify. */
async function gatewayAccepts(req: RequestToSign, headers: Headers, secret = SECRET): Promise<boolean | string> {
  const read = parseSignatureHeaders(headers, NOW);
  if (!read.ok) return read.failure.kind;
  const parsed = read.value;
  const canonical = await canonicalRequestFor({ ...req, timestamp: parsed.timestamp, nonce: parsed.nonce });
  return verifySignature(secret, canonical, parsed.signatureHex);
}

describe("canonicalQuery", () => {
  it.each([
    ["", ""],
    ["?", ""],
    ["b=2&a=1", "a=1&b=2"],
    ["?a=1&b=2", "a=1&b=2"],
    ["a=2&a=10&a=1", "a=1&a=10&a=2"],
    ["a=1&a=1", "a=1&a=1"],
    ["q=a+b", "q=a%2Bb"],
    ["q=a%20b", "q=a%20b"],
    ["q=%7e%7E~", "q=~~~"],
    ["q=!'()*", "q=%21%27%28%29%2A"],
    ["q=%zz&r=%", "q=%25zz&r=%25"],
    ["flag", "flag="],
    ["flag=", "flag="],
    ["a=1=2", "a=1%3D2"],
    ["&&a=1&", "a=1"],
    ["name=%C3%A9t%C3%A9", "name=%C3%A9t%C3%A9"],
    ["B=1&a=1&_=1&~=1", "B=1&_=1&a=1&~=1"],
    ["%61=1&a=0", "a=0&a=1"],
    ["k=v%26w", "k=v%26w"],
    ["x=%ff", "x=%25ff"],
    ["x=a%zz%41", "x=a%25zz%2541"],
    ["x=%ED%A0%80", "x=%25ED%25A0%2580"],
    ["??a=1", "%3Fa=1"],
  ])("%j -> %j", (raw, expected) => {
    expect(canonicalQuery(raw)).toBe(expected);
  });

  it("gives the same form for reordered parameters and different percent-encodings of the same text", () => {
    expect(canonicalQuery("x=%41&y=%2f")).toBe(canonicalQuery("y=/&x=A"));
  });
});

describe("canonicalRequest and computeSignature", () => {
  it("joins the seven lines with \\n and upper-cases the method", async () => {
    const canonical = canonicalRequest({
      method: "post",
      path: "/v1/chat/completions",
      rawQuery: "?b=2&a=1",
      timestamp: NOW,
      nonce: NONCE,
      bodySha256Hex: await sha256Hex(""),
    });
    expect(canonical).toBe(
      `v1\nPOST\n/v1/chat/completions\na=1&b=2\n${NOW}\n${NONCE}\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`,
    );
  });

  it("is HMAC-SHA256 in lowercase hex (RFC 4231 test case 2)", async () => {
    expect(await computeSignature("Jefe", "what do ya want for nothing?")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });
});

describe("the worked example in docs/api/authentication.md", () => {
  it("produces the documented canonical string and signature", async () => {
    const key = "gk_1iAvvH2TBZn9sWjyjsbn1iGSo6bp8n0SJ76U";
    const secret = "gss_AtXu67lmtzopA00XabaTcQxljZMAPKOMdh4zNCVnCyK";
    const url = "https://gateway.example.com/v1/chat/completions?tag=b%20c&debug&tag=a";
    const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}';
    const canonical = await canonicalRequestFor({ method: "POST", url, timestamp: 1750000000, nonce: "4f9c2a7d1b8e4c6fa3d5", body });
    expect(canonical).toBe(
      "v1\nPOST\n/v1/chat/completions\ndebug=&tag=a&tag=b%20c\n1750000000\n4f9c2a7d1b8e4c6fa3d5\n" +
        "0f6c4928cc817aa0374109e15e7326e78248fff8ee930682ed24dd3f313cd7c5",
    );
    expect(new TextEncoder().encode(canonical)).toHaveLength(148);
    const headers = await signRequest({ key, secret, method: "POST", url, body, now: 1750000000, nonce: "4f9c2a7d1b8e4c6fa3d5" });
    expect(headers["X-Gateway-Signature"]).toBe("v1=a1a3f935f02f6c1a2a18dd448c1344a81862af2ebf71766e8316932d0bf377eb");
  });
});

describe("signRequest -> gateway verification", () => {
  const req: RequestToSign = { method: "POST", url: URL_, body: BODY, timestamp: NOW, nonce: NONCE };

  it("accepts a correctly signed request and produces the four headers", async () => {
    expect(isWellFormedSigningSecret(SECRET)).toBe(true);
    const signed = await signRequest({ key: KEY, secret: SECRET, method: "POST", url: URL_, body: BODY, now: NOW, nonce: NONCE });
    expect(Object.keys(signed).sort()).toEqual(["Authorization", "X-Gateway-Nonce", "X-Gateway-Signature", "X-Gateway-Timestamp"]);
    expect(signed.Authorization).toBe(`Bearer ${KEY}`);
    expect(signed["X-Gateway-Signature"]).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(await gatewayAccepts(req, headersOf(signed))).toBe(true);
  });

  it("signs Uint8Array, ArrayBuffer and string bodies with the same bytes the same way", async () => {
    const bytes = new TextEncoder().encode(BODY);
    const base = { key: KEY, secret: SECRET, method: "POST", url: URL_, now: NOW, nonce: NONCE };
    const a = await signRequest({ ...base, body: BODY });
    expect(await signRequest({ ...base, body: bytes })).toEqual(a);
    expect(await signRequest({ ...base, body: bytes.buffer as ArrayBuffer })).toEqual(a);
    const empty = await signRequest({ ...base, method: "GET", body: undefined });
    expect(await signRequest({ ...base, method: "GET", body: "" })).toEqual(empty);
  });

  it("fails verification for every byte changed in every signed part (100%)", async () => {
    const signed = await signRequest({ key: KEY, secret: SECRET, method: "POST", url: URL_, body: BODY, now: NOW, nonce: NONCE });
    const signature = signed["X-Gateway-Signature"]!.slice(3);
    const original = await canonicalRequestFor(req);
    const variants: RequestToSign[] = [];
    const body = new TextEncoder().encode(BODY);
    for (let i = 0; i < body.length; i++) {
      const b = body.slice();
      b[i] = b[i]! ^ 0x01;
      variants.push({ ...req, body: b });
    }
    const swap = (s: string, i: number) => s.slice(0, i) + (s[i] === "x" ? "y" : "x") + s.slice(i + 1);
    for (const method of ["GET", "PUT", "PATCH", "DELETE", "POSTX"]) variants.push({ ...req, method });
    const path = "/v1/chat/completions";
    for (let i = 1; i < path.length; i++) variants.push({ ...req, url: `https://gateway.example.com${swap(path, i)}?stream=false&b=2&a=1` });
    const query = "stream=false&b=2&a=1";
    for (let i = 0; i < query.length; i++) variants.push({ ...req, url: `https://gateway.example.com${path}?${swap(query, i)}` });
    const stamp = String(NOW);
    for (let i = 0; i < stamp.length; i++) variants.push({ ...req, timestamp: Number(stamp.slice(0, i) + ((Number(stamp[i]) + 1) % 10) + stamp.slice(i + 1)) });
    for (let i = 0; i < NONCE.length; i++) variants.push({ ...req, nonce: swap(NONCE, i) });

    let accepted = 0;
    for (const v of variants) {
      const canonical = await canonicalRequestFor(v);
      expect(canonical).not.toBe(original);
      if (await verifySignature(SECRET, canonical, signature)) accepted++;
    }
    expect(variants.length).toBeGreaterThan(150);
    expect(accepted).toBe(0);
  });

  it("fails for every single-digit change of the signature and for another secret", async () => {
    const canonical = await canonicalRequestFor(req);
    const signature = await computeSignature(SECRET, canonical);
    expect(await verifySignature(SECRET, canonical, signature)).toBe(true);
    for (let i = 0; i < 64; i++) {
      const next = ((parseInt(signature[i]!, 16) + 1) % 16).toString(16);
      expect(await verifySignature(SECRET, canonical, signature.slice(0, i) + next + signature.slice(i + 1))).toBe(false);
    }
    expect(await verifySignature(SECRET.slice(0, -1) + "Y", canonical, signature)).toBe(false);
  });

  it("rejects a one-byte body change and a re-serialized body", async () => {
    const signed = headersOf(await signRequest({ key: KEY, secret: SECRET, method: "POST", url: URL_, body: BODY, now: NOW, nonce: NONCE }));
    expect(await gatewayAccepts({ ...req, body: BODY.replace("Hello", "Hellp") }, signed)).toBe(false);
    expect(await gatewayAccepts({ ...req, body: JSON.stringify(JSON.parse(BODY), null, 2) }, signed)).toBe(false);
    expect(await gatewayAccepts({ ...req, body: BODY + "\n" }, signed)).toBe(false);
  });

  it("accepts reordered query parameters; a duplicated or dropped parameter fails", async () => {
    const signed = headersOf(await signRequest({ key: KEY, secret: SECRET, method: "POST", url: URL_, body: BODY, now: NOW, nonce: NONCE }));
    const at = (q: string) => ({ ...req, url: `https://gateway.example.com/v1/chat/completions?${q}` });
    expect(await gatewayAccepts(at("a=1&b=2&stream=false"), signed)).toBe(true);
    expect(await gatewayAccepts(at("a=%31&b=2&stream=false"), signed)).toBe(true);
    expect(await gatewayAccepts(at("a=1&a=1&b=2&stream=false"), signed)).toBe(false);
    expect(await gatewayAccepts(at("b=2&stream=false"), signed)).toBe(false);
    expect(await gatewayAccepts({ ...req, url: "https://gateway.example.com/v1/chat/completions" }, signed)).toBe(false);
  });

  it("answers each dropped signing header with a 401 kind", async () => {
    const signed = await signRequest({ key: KEY, secret: SECRET, method: "POST", url: URL_, body: BODY, now: NOW, nonce: NONCE });
    expect(await gatewayAccepts(req, headersOf(signed, (h) => h.delete("X-Gateway-Signature")))).toBe("missing_signature");
    expect(await gatewayAccepts(req, headersOf(signed, (h) => h.delete("X-Gateway-Timestamp")))).toBe("stale_timestamp");
    expect(await gatewayAccepts(req, headersOf(signed, (h) => h.delete("X-Gateway-Nonce")))).toBe("invalid_signature");
  });
});

describe("parseSignatureHeaders", () => {
  const good = { "X-Gateway-Timestamp": String(NOW), "X-Gateway-Nonce": NONCE, "X-Gateway-Signature": `v1=${"ab".repeat(32)}` };
  const kindOf = (h: Record<string, string>, now = NOW) => {
    const r = parseSignatureHeaders(new Headers(h), now);
    return r.ok ? "ok" : r.failure.kind;
  };

  it("returns the parsed values for well-formed headers", () => {
    expect(parseSignatureHeaders(new Headers(good), NOW)).toEqual({ ok: true, value: { timestamp: NOW, nonce: NONCE, signatureHex: "ab".repeat(32) } });
  });

  it("answers missing_signature without the header, or with an empty one", () => {
    const { "X-Gateway-Signature": _, ...rest } = good;
    expect(kindOf(rest)).toBe("missing_signature");
    expect(kindOf({ ...good, "X-Gateway-Signature": "" })).toBe("missing_signature");
    expect(kindOf({})).toBe("missing_signature");
  });

  it.each([
    ["upper-case hex", `v1=${"AB".repeat(32)}`],
    ["63 digits", `v1=${"a".repeat(63)}`],
    ["65 digits", `v1=${"a".repeat(65)}`],
    ["base64", `v1=${btoa(String.fromCharCode(...new Uint8Array(32).fill(171)))}`],
    ["no prefix", "ab".repeat(32)],
    ["other version", `v2=${"ab".repeat(32)}`],
    ["space after =", `v1= ${"ab".repeat(32)}`],
    ["non-hex", `v1=${"zz".repeat(32)}`],
    ["two signatures", `v1=${"ab".repeat(32)}, v1=${"cd".repeat(32)}`],
  ])("answers invalid_signature for a signature with %s", (_, value) => {
    expect(kindOf({ ...good, "X-Gateway-Signature": value })).toBe("invalid_signature");
  });

  it("treats a duplicated signature header as malformed", () => {
    const h = new Headers(good);
    h.append("X-Gateway-Signature", `v1=${"ab".repeat(32)}`);
    const r = parseSignatureHeaders(h, NOW);
    expect(r.ok ? "ok" : r.failure.kind).toBe("invalid_signature");
  });

  it.each(["", "abc", "-5", "-1750000000", "1e9", "1750000000.0", "+1750000000", "0x684ee180", "01750000000", "99999999999999999999", "9".repeat(400), "NaN", "Infinity", "1 750 000 000"])(
    "answers stale_timestamp for timestamp %j",
    (stamp) => {
      expect(kindOf({ ...good, "X-Gateway-Timestamp": stamp })).toBe("stale_timestamp");
    },
  );

  it("accepts exactly the 300 s window in both directions", () => {
    for (const [offset, expected] of [[0, "ok"], [300, "ok"], [-300, "ok"], [301, "stale_timestamp"], [-301, "stale_timestamp"], [86_400, "stale_timestamp"]] as const) {
      expect(kindOf({ ...good, "X-Gateway-Timestamp": String(NOW + offset) })).toBe(expected);
    }
    expect(kindOf({ ...good, "X-Gateway-Timestamp": "0" })).toBe("stale_timestamp");
    const r = parseSignatureHeaders(new Headers({ ...good, "X-Gateway-Timestamp": String(NOW - 59) }), NOW, 60);
    expect(r.ok).toBe(true);
  });

  it.each(["", "short", "a".repeat(15), "a".repeat(65), "has space here!!", "dots.are.not.allowed", "slash/slash/slash", "plus+plus+plus+plus", "pad=pad=pad=pad=", "ünïcødé-ünïcødé-x"])(
    "answers invalid_signature for nonce %j",
    (nonce) => {
      expect(kindOf({ ...good, "X-Gateway-Nonce": nonce })).toBe("invalid_signature");
    },
  );

  it("accepts nonces of 16 and 64 characters", () => {
    expect(kindOf({ ...good, "X-Gateway-Nonce": "a".repeat(16) })).toBe("ok");
    expect(kindOf({ ...good, "X-Gateway-Nonce": "Z_-9".repeat(16) })).toBe("ok");
  });

  it("never throws and verifySignature is false for malformed signatures", async () => {
    for (const bad of ["", "AB".repeat(32), "a".repeat(63), "=".repeat(64), "g".repeat(64), toHex(new Uint8Array(33))]) {
      await expect(verifySignature(SECRET, "v1", bad)).resolves.toBe(false);
    }
  });
});
