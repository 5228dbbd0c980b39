// Shared adapter plumbing: redaction, removing sanitized members, adapter lookup.
import { describe, expect, it } from "vitest";
import { deleteKeysDeep, redact } from "./common";
import { adapterFor } from "./index";

describe("redact", () => {
  it("removes key-like strings and caps length", () => {
    expect(redact("bad key sk-proj-AbC123*****xyz and Bearer eyJhbGciOi.abc")).toBe("bad key [redacted] and [redacted]");
    expect(redact("token " + "A".repeat(60))).toBe("token [redacted]");
    expect(redact("word ".repeat(200)).length).toBe(503);
  });
});

describe("adapterFor", () => {
  it("has an adapter for every provider kind", () => {
    for (const kind of ["openai", "anthropic", "azure"] as const) expect(adapterFor(kind).kind).toBe(kind);
  });
});

describe("deleteKeysDeep", () => {
  it("removes the named members wherever they are and says whether it did", () => {
    const body = { a: 1, service_tier: "x", choices: [{ content_filter_results: {}, delta: { content: "service_tier" } }], nested: { deeper: [{ service_tier: 1 }] } };
    expect(deleteKeysDeep(body, ["service_tier", "content_filter_results"])).toBe(true);
    expect(body).toEqual({ a: 1, choices: [{ delta: { content: "service_tier" } }], nested: { deeper: [{}] } });
    expect(deleteKeysDeep(body, ["service_tier"])).toBe(false);
    expect(deleteKeysDeep("text", ["x"])).toBe(false);
  });
});
