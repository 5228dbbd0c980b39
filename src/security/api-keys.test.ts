// Key formats: every generated key is well-formed, every single-character change is caught offline.
import { describe, expect, it } from "vitest";
import {
  API_KEY_LENGTH,
  crc32,
  generateApiKey,
  generateServiceToken,
  generateSigningSecret,
  hashApiKey,
  credentialHash,
  isWellFormedApiKey,
  isWellFormedServiceToken,
  isWellFormedSigningSecret,
  keyHint,
  randomId,
  SERVICE_TOKEN_LENGTH,
} from "./api-keys";
import { BASE62 } from "./encoding";

const OTHER_CHARS = BASE62 + "-_.~+/= \u00e9";

function mutateOnce(key: string, position: number, replacement: string): string {
  return key.slice(0, position) + replacement + key.slice(position + 1);
}

describe("generateApiKey", () => {
  it("makes 1,000 distinct, well-formed 39-character keys", () => {
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const key = generateApiKey();
      expect(key).toMatch(/^gk_[0-9A-Za-z]{36}$/);
      expect(key).toHaveLength(API_KEY_LENGTH);
      expect(isWellFormedApiKey(key)).toBe(true);
      keys.add(key);
    }
    expect(keys.size).toBe(1000);
  });

  it("draws body characters uniformly from all 62 symbols", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      for (const ch of generateApiKey().slice(3, 33)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    // 30,000 draws: about 484 per symbol, sd about 22; the bounds are beyond 6 sd.
    for (const n of counts.values()) expect(n).toBeGreaterThan(340);
    for (const n of counts.values()) expect(n).toBeLessThan(630);
  });
});

describe("isWellFormedApiKey", () => {
  it("rejects 1,000 random single-character mutations", () => {
    let rejected = 0;
    for (let i = 0; i < 1000; i++) {
      const key = generateApiKey();
      const position = Math.floor(Math.random() * key.length);
      let replacement = key[position]!;
      while (replacement === key[position]) replacement = OTHER_CHARS[Math.floor(Math.random() * OTHER_CHARS.length)]!;
      if (!isWellFormedApiKey(mutateOnce(key, position, replacement))) rejected++;
    }
    expect(rejected).toBe(1000);
  });

  it("rejects every single-character substitution and every adjacent swap of a key, exhaustively", () => {
    for (let n = 0; n < 5; n++) {
      const key = generateApiKey();
      for (let p = 0; p < key.length; p++) {
        for (const ch of OTHER_CHARS) {
          if (ch !== key[p]) expect(isWellFormedApiKey(mutateOnce(key, p, ch))).toBe(false);
        }
        if (p + 1 < key.length && key[p] !== key[p + 1]) {
          const swapped = key.slice(0, p) + key[p + 1] + key[p] + key.slice(p + 2);
          expect(isWellFormedApiKey(swapped)).toBe(false);
        }
      }
    }
  });

  it("rejects wrong types, lengths, prefixes and truncations", () => {
    const key = generateApiKey();
    for (const bad of [undefined, null, 42, {}, "", "gk_", key.slice(0, -1), key + "0", ` ${key}`, `${key}\n`, key.toUpperCase(), "GK_" + key.slice(3), "Bearer " + key]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
  });

  it("does not accept a service token as an API key, or the reverse (the prefix is inside the checksum)", () => {
    const token = generateServiceToken();
    const key = generateApiKey();
    expect(isWellFormedServiceToken(token)).toBe(true);
    expect(token).toHaveLength(SERVICE_TOKEN_LENGTH);
    expect(isWellFormedApiKey(token)).toBe(false);
    expect(isWellFormedApiKey("gk_" + token.slice(4))).toBe(false);
    expect(isWellFormedServiceToken(key)).toBe(false);
    expect(isWellFormedServiceToken("gst_" + key.slice(3))).toBe(false);
  });

  it("uses the standard CRC-32", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("")).toBe(0);
  });
});

describe("hashApiKey", () => {
  it("is lowercase hex SHA-256 of the key text", async () => {
    expect(await hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashApiKey(key)).toBe(hash);
    expect(hash).not.toContain(key.slice(3, 33));
    expect(await hashApiKey(generateApiKey())).not.toBe(hash);
  });
});

describe("signing secrets, ids and hints", () => {
  it("makes gss_ secrets of 43 base62 characters", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const secret = generateSigningSecret();
      expect(secret).toMatch(/^gss_[0-9A-Za-z]{43}$/);
      expect(isWellFormedSigningSecret(secret)).toBe(true);
      seen.add(secret);
    }
    expect(seen.size).toBe(200);
    expect(isWellFormedSigningSecret("gss_short")).toBe(false);
    expect(isWellFormedSigningSecret(generateApiKey())).toBe(false);
  });

  it("makes url-safe prefixed ids", () => {
    expect(randomId("ten")).toMatch(/^ten_[0-9A-Za-z]{20}$/);
    expect(randomId("key_")).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(randomId("ten")).not.toBe(randomId("ten"));
  });

  it("shows only the prefix and four characters", () => {
    const key = generateApiKey();
    expect(keyHint(key)).toBe(`${key.slice(0, 7)}…`);
  });
});

describe("credentialHash", () => {
  it("is hashApiKey, for every key however many the isolate has seen (the memo is bounded, never wrong)", async () => {
    const keys = Array.from({ length: 1_100 }, () => generateApiKey());
    for (const key of keys) expect(await credentialHash(key)).toBe(await hashApiKey(key));
    // Asked again after the memo filled up and started over: still the right hash for each.
    for (const key of [keys[0]!, keys[500]!, keys[1_099]!]) expect(await credentialHash(key)).toBe(await hashApiKey(key));
    expect(await credentialHash("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
