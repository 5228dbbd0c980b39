// Upstream credentials: the right header per auth scheme, client-sent credentials cleared, bad secrets refused.
import { describe, expect, it } from "vitest";
import { applyCredential } from "./credentials";

// The upstream request's headers as call_upstream builds them: a plain lower-case record.
const fresh = (): Record<string, string> => ({ "content-type": "application/json", authorization: "Bearer client-key", "x-api-key": "client", "api-key": "client", "proxy-authorization": "x" });

describe("applyCredential", () => {
  it("sets exactly one credential header per scheme", () => {
    const cases = [
      ["bearer", "sk-live-1", { authorization: "Bearer sk-live-1" }],
      ["api-key", "azure-key", { "api-key": "azure-key" }],
      ["x-api-key", "sk-ant-1", { "x-api-key": "sk-ant-1" }],
      ["none", undefined, {}],
    ] as const;
    for (const [auth, secret, expected] of cases) {
      const h = fresh();
      expect(applyCredential(h, auth, secret)).toBeUndefined();
      expect(h).toEqual({ "content-type": "application/json", ...expected });
    }
  });

  it("encodes basic credentials as UTF-8 base64 of user:password", () => {
    const h = fresh();
    expect(applyCredential(h, "basic", "gateway:pässword:with:colons")).toBeUndefined();
    const encoded = h.authorization!.replace(/^Basic /, "");
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    expect(new TextDecoder().decode(bytes)).toBe("gateway:pässword:with:colons");
    expect(h["x-api-key"]).toBeUndefined();
  });

  it("trims a pasted trailing newline", () => {
    const h: Record<string, string> = {};
    applyCredential(h, "bearer", "sk-abc\n");
    expect(h.authorization).toBe("Bearer sk-abc");
  });

  it("refuses missing or header-breaking secrets without echoing them", () => {
    const bad = [
      ["bearer", undefined],
      ["bearer", "  "],
      ["api-key", "abc\r\nx-evil: 1"],
      ["basic", "no-colon-secret"],
    ] as const;
    for (const [auth, secret] of bad) {
      const h = fresh();
      const failure = applyCredential(h, auth, secret);
      expect(failure?.kind).toBe("config_unavailable");
      expect(failure?.message).not.toContain("abc");
      expect(failure?.message).not.toContain("no-colon-secret");
      expect(h.authorization).toBeUndefined();
    }
  });

  it("clears every client credential header, proxy-authorization included, before setting its own", () => {
    const record: Record<string, string> = { "content-type": "application/json", authorization: "Bearer client-key", "x-api-key": "client", "proxy-authorization": "x" };
    expect(applyCredential(record, "api-key", " azure-key\n")).toBeUndefined();
    expect(record).toEqual({ "content-type": "application/json", "api-key": "azure-key" });
    const refused: Record<string, string> = { authorization: "Bearer client-key" };
    expect(applyCredential(refused, "bearer", "abc\r\nx-evil: 1")?.kind).toBe("config_unavailable");
    expect(refused).toEqual({});
  });
});
