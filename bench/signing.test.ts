// The load generator's signer must produce exactly what the gateway verifies: the documented worked
// example, and agreement with src/security/signature.ts on the benchmark's own request.
import { describe, expect, it } from "vitest";
import { canonicalRequestFor, computeSignature } from "../src/security/signature";
import { canonicalString, createSigner, hmacHex, sha256Hex, signingCostMicros } from "./signing.mjs";

const SECRET = "gss_AtXu67lmtzopA00XabaTcQxljZMAPKOMdh4zNCVnCyK";
const BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}';

describe("bench signer", () => {
  it("reproduces the worked example of docs/api/authentication.md", () => {
    expect(sha256Hex(BODY)).toBe("0f6c4928cc817aa0374109e15e7326e78248fff8ee930682ed24dd3f313cd7c5");
    const canonical = canonicalString({
      method: "post",
      path: "/v1/chat/completions",
      canonicalQuery: "debug=&tag=a&tag=b%20c",
      timestamp: 1750000000,
      nonce: "4f9c2a7d1b8e4c6fa3d5",
      bodySha256Hex: sha256Hex(BODY),
    });
    expect(hmacHex(SECRET, canonical)).toBe("a1a3f935f02f6c1a2a18dd448c1344a81862af2ebf71766e8316932d0bf377eb");
  });

  it("signs the benchmark request as the gateway's own implementation does", async () => {
    const path = "/external/v1/chat/completions";
    const signer = createSigner({ key: "gk_test", secret: SECRET, path, body: BODY });
    const headers = signer.headers();
    const canonical = await canonicalRequestFor({
      method: "POST",
      url: `http://127.0.0.1:1234${path}`,
      timestamp: headers["x-gateway-timestamp"],
      nonce: headers["x-gateway-nonce"],
      body: BODY,
    });
    expect(headers["x-gateway-signature"]).toBe(`v1=${await computeSignature(SECRET, canonical)}`);
    expect(headers.authorization).toBe("Bearer gk_test");
    expect(Math.abs(Number(headers["x-gateway-timestamp"]) - Date.now() / 1000)).toBeLessThan(2);
  });

  it("uses a fresh, well-formed nonce for every request, across pool refills", () => {
    const signer = createSigner({ key: "k", secret: SECRET, path: "/x", body: "" });
    const nonces = new Set<string>();
    for (let i = 0; i < 10_000; i++) nonces.add(signer.headers()["x-gateway-nonce"]);
    expect(nonces.size).toBe(10_000);
    for (const n of [...nonces].slice(0, 50)) expect(n).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it("costs little enough not to bottleneck the generator", () => {
    const signer = createSigner({ key: "k", secret: SECRET, path: "/x", body: BODY });
    expect(signingCostMicros(signer, 2_000)).toBeLessThan(200);
  });
});
