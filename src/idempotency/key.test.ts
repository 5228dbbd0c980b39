// The request fingerprint behind Idempotency-Key conflicts: any change of method, path or body bytes changes it.
import { describe, expect, it } from "vitest";
import { fingerprint } from "./key";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("fingerprint", () => {
  it("is the hex SHA-256 of method, path and the raw body, and changes with each", async () => {
    const base = await fingerprint("POST", "/external/v1/chat/completions", bytes('{"a":1}'));
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await fingerprint("post", "/external/v1/chat/completions", bytes('{"a":1}'))).toBe(base);
    const variants = await Promise.all([
      fingerprint("PUT", "/external/v1/chat/completions", bytes('{"a":1}')),
      fingerprint("POST", "/external/v1/embeddings", bytes('{"a":1}')),
      fingerprint("POST", "/external/v1/chat/completions", bytes('{"a": 1}')), // re-serialized: another request
      fingerprint("POST", "/external/v1/chat/completions", bytes("")),
    ]);
    expect(new Set([base, ...variants]).size).toBe(5);
  });
});
