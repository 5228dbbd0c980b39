// Browser origin patterns: what an admin may configure, the canonical form kept, and what each matches.
import { describe, expect, it } from "vitest";
import { crossOrigin, originAllowed, parseOriginPattern, patternsCovering } from "./origin-patterns";

describe("parseOriginPattern", () => {
  it.each([
    ["https://app.example.com", "https://app.example.com"],
    ["HTTPS://App.Example.COM", "https://app.example.com"],
    ["https://app.example.com:443", "https://app.example.com"],
    ["http://localhost:5173", "http://localhost:5173"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["http://[::1]:3000", "http://[::1]:3000"],
    ["https://bücher.de", "https://xn--bcher-kva.de"],
    ["https://*.example.com", "https://*.example.com"],
    ["https://*.Example.com:8443", "https://*.example.com:8443"],
    [" https://*.a.b.example.co.uk ", "https://*.a.b.example.co.uk"],
  ])("accepts %s as %s", (raw, canonical) => {
    expect(parseOriginPattern(raw)).toEqual({ ok: true, pattern: canonical });
  });

  it.each([
    "*",
    "https://*",
    "https://*.com",
    "https://*.*.example.com",
    "https://a.*.example.com",
    "https://*.1.2.3",
    "https://*.[::1]",
    "https://app.example.com/",
    "https://app.example.com/path",
    "https://app.example.com?x=1",
    "https://user@app.example.com",
    "ftp://app.example.com",
    "app.example.com",
    "null",
    "",
    `https://${"a".repeat(300)}.com`,
  ])("refuses %j", (raw) => {
    expect(parseOriginPattern(raw).ok).toBe(false);
  });
});

describe("originAllowed", () => {
  const patterns = ["https://app.example.com", "https://*.tenant.io", "http://localhost:5173", "http://[::1]:3000"];

  it.each([
    ["https://app.example.com", true],
    ["https://a.tenant.io", true],
    ["https://deep.a.tenant.io", true],
    ["http://localhost:5173", true],
    ["http://[::1]:3000", true],
    // The apex is not a subdomain; the scheme and port must match.
    ["https://tenant.io", false],
    ["http://a.tenant.io", false],
    ["https://a.tenant.io:8443", false],
    ["https://eviltenant.io", false],
    ["https://a.tenant.io.evil.com", false],
    ["https://app.example.com.evil.com", false],
    ["http://app.example.com", false],
    ["http://localhost:5174", false],
    ["null", false],
    ["https://a.tenant.io/", false],
    ["https://x#.tenant.io", false],
  ])("%s -> %s", (origin, allowed) => {
    expect(originAllowed(patterns, origin)).toBe(allowed);
  });

  it("no patterns allow nothing", () => {
    expect(originAllowed(undefined, "https://app.example.com")).toBe(false);
    expect(originAllowed([], "https://app.example.com")).toBe(false);
  });

  it("every pattern a preflight looks up covers the origin, and a matching pattern is always among them", () => {
    for (const origin of ["https://a.b.tenant.io", "https://app.example.com:8443", "http://localhost:5173"]) {
      const covering = patternsCovering(origin);
      for (const pattern of covering) expect(originAllowed([pattern], origin)).toBe(true);
      for (const pattern of patterns) if (originAllowed([pattern], origin)) expect(covering).toContain(pattern);
    }
    expect(patternsCovering("https://a.b.tenant.io")).toEqual(["https://a.b.tenant.io", "https://*.b.tenant.io", "https://*.tenant.io"]);
    expect(patternsCovering("http://127.0.0.1:8080")).toEqual(["http://127.0.0.1:8080"]);
    expect(patternsCovering("null")).toEqual([]);
  });
});

describe("crossOrigin", () => {
  const req = (headers: Record<string, string>) => new Request("https://gw.example.net/external/v1/models", { headers });
  it("is the Origin of a request from another origin, null otherwise", () => {
    expect(crossOrigin(req({}))).toBeNull();
    expect(crossOrigin(req({ origin: "https://gw.example.net" }))).toBeNull();
    expect(crossOrigin(req({ origin: "https://app.example.com" }))).toBe("https://app.example.com");
    expect(crossOrigin(req({ origin: "null" }))).toBe("null");
  });
});
