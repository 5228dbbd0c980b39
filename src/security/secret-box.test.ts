// Sealing signing secrets: round trips, the documented key derivation, and tamper detection.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64Url, utf8 } from "./encoding";
import { openSecret, sealSecret } from "./secret-box";

const RAW_KEY_BYTES = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const RAW_KEY = btoa(String.fromCharCode(...RAW_KEY_BYTES));
const SECRET = "gss_0123456789abcdefghijABCDEFGHIJklmnopqrstu";
// The MASTER_KEY binding of the test config (base64 of 31 bytes).
const TEST_MASTER_KEY = env.MASTER_KEY!;

async function decryptWith(key: CryptoKey, sealed: string): Promise<string> {
  const [, iv, ct] = sealed.split(".");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv!)! }, key, fromBase64(ct!)!);
  return new TextDecoder().decode(plain);
}

describe("sealSecret / openSecret", () => {
  it("round-trips under the test MASTER_KEY and a raw 32-byte key", async () => {
    for (const master of [TEST_MASTER_KEY, RAW_KEY]) {
      const sealed = await sealSecret(master, SECRET);
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(sealed).not.toContain(SECRET);
      expect(await openSecret(master, sealed)).toBe(SECRET);
    }
    expect(await openSecret(RAW_KEY, await sealSecret(RAW_KEY, "ünïcødé 🔑"))).toBe("ünïcødé 🔑");
    expect(await openSecret(RAW_KEY, await sealSecret(RAW_KEY, ""))).toBe("");
  });

  it("uses a fresh IV every time", async () => {
    const a = await sealSecret(RAW_KEY, SECRET);
    const b = await sealSecret(RAW_KEY, SECRET);
    expect(a).not.toBe(b);
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
  });

  it("uses base64 of exactly 32 bytes as the AES key itself (standard or url-safe spelling, whitespace ignored)", async () => {
    const key = await crypto.subtle.importKey("raw", RAW_KEY_BYTES, "AES-GCM", false, ["decrypt"]);
    expect(await decryptWith(key, await sealSecret(RAW_KEY, SECRET))).toBe(SECRET);
    const urlSafe = toBase64Url(RAW_KEY_BYTES);
    expect(await openSecret(urlSafe, await sealSecret(RAW_KEY, SECRET))).toBe(SECRET);
    expect(await openSecret(`${RAW_KEY}\n`, await sealSecret(RAW_KEY, SECRET))).toBe(SECRET);
  });

  it("derives any other master key with HKDF-SHA256 (empty salt, info 'gateway secret-box v1')", async () => {
    const master = TEST_MASTER_KEY; // base64 of 31 bytes: not a raw key
    expect(fromBase64(master)?.length).toBe(31);
    const ikm = await crypto.subtle.importKey("raw", utf8(master), "HKDF", false, ["deriveKey"]);
    const key = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8("gateway secret-box v1") },
      ikm,
      { name: "AES-GCM", length: 256 },
      false,
      ["decrypt"],
    );
    expect(await decryptWith(key, await sealSecret(master, SECRET))).toBe(SECRET);
    expect(await openSecret("a passphrase", await sealSecret("a passphrase", SECRET))).toBe(SECRET);
  });

  it("returns null for every single-character change of a sealed value", async () => {
    const sealed = await sealSecret(RAW_KEY, SECRET);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    let opened = 0;
    for (let p = 0; p < sealed.length; p++) {
      for (const ch of [alphabet[(alphabet.indexOf(sealed[p]!) + 1) % alphabet.length]!, "A", "="]) {
        if (ch === sealed[p]) continue;
        const tampered = sealed.slice(0, p) + ch + sealed.slice(p + 1);
        if ((await openSecret(RAW_KEY, tampered)) !== null) opened++;
      }
    }
    expect(opened).toBe(0);
  });

  it("returns null under another master key or another context", async () => {
    const sealed = await sealSecret(RAW_KEY, SECRET, "key_abc");
    expect(await openSecret(RAW_KEY, sealed, "key_abc")).toBe(SECRET);
    expect(await openSecret(RAW_KEY, sealed, "key_abd")).toBeNull();
    expect(await openSecret(RAW_KEY, sealed)).toBeNull();
    expect(await openSecret(TEST_MASTER_KEY, sealed, "key_abc")).toBeNull();
    expect(await openSecret(RAW_KEY, await sealSecret(RAW_KEY, SECRET), "key_abc")).toBeNull();
  });

  it("returns null for malformed input instead of throwing", async () => {
    const sealed = await sealSecret(RAW_KEY, SECRET);
    const [, iv, ct] = sealed.split(".");
    for (const bad of ["", "v1", "v1..", "v1.a.b", `v2.${iv}.${ct}`, `v1.${iv}.${ct}.x`, `v1.${iv}`, `v1.${iv}=.${ct}`,
      `v1.${iv}.${ct!.slice(0, 10)}`, `v1.${iv!.slice(1)}.${ct}`, `v1.${iv}.${ct}==`, `v1.${iv}.${ct!.replace(/[-_]/g, "+")}x`, SECRET]) {
      expect(await openSecret(RAW_KEY, bad)).toBeNull();
    }
  });

  it("refuses an empty master key loudly (a deploy bug, not a client error)", async () => {
    await expect(sealSecret("", SECRET)).rejects.toThrow(/MASTER_KEY/);
    await expect(openSecret("  ", "v1.a.b")).resolves.toBeNull();
    await expect(openSecret(" ", `v1.${"A".repeat(16)}.${"A".repeat(24)}`)).rejects.toThrow(/MASTER_KEY/);
  });
});
