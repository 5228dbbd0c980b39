// The egress allowlist's entries: the deployment's patterns and a preset's exact names, refused when they are not public host names.
import { describe, expect, it } from "vitest";
import { DEFAULT_EGRESS_HOSTS, parseEgressAllowedHosts, parseHostPattern } from "./egress-hosts";

const parse = (raw: string, wildcard = true) => {
  const r = parseHostPattern(raw, { wildcard });
  return r.ok ? r.value : "refused";
};

describe("parseHostPattern", () => {
  it("normalises names and deployment patterns", () => {
    expect(parse("API.OpenAI.com.")).toBe("api.openai.com");
    expect(parse(" *.openai.azure.com ")).toBe("*.openai.azure.com");
    expect(parse("llm-gw.example.co.uk", false)).toBe("llm-gw.example.co.uk");
  });

  it.each([
    "169.254.169.254.nip.io", "localtest.me", "10.0.0.1.xip.io", "app.lvh.me", "localhost", "api.localhost", "metadata.google.internal",
    "printer.local", "8.8.8.8", "127.1", "2130706433", "[::1]", "::1", "com", "*.com", "*", "*.*.example.com", "a..b", "-a.example.com",
    "a_b.example.com", "exa mple.com", "example.com/path", "example.com:443", "user@example.com", "10-0-0-1.example.com", `${"a".repeat(64)}.example.com`,
  ])("refuses %j", (raw) => {
    expect(parse(raw)).toBe("refused");
  });

  it("refuses patterns where only exact names are allowed (a preset's egress_hosts)", () => {
    expect(parse("*.example.com", false)).toBe("refused");
    const r = parseHostPattern("*.example.com", { wildcard: false });
    expect(!r.ok && r.failure.kind).toBe("invalid_request");
  });
});

describe("parseEgressAllowedHosts (EGRESS_ALLOWED_HOSTS)", () => {
  it("defaults to the supported providers' hosts", () => {
    expect(parseEgressAllowedHosts(undefined)).toEqual(DEFAULT_EGRESS_HOSTS);
    expect(parseEgressAllowedHosts(" , ")).toEqual(DEFAULT_EGRESS_HOSTS);
    expect(DEFAULT_EGRESS_HOSTS).toEqual(["api.openai.com", "api.anthropic.com", "*.openai.azure.com", "*.cognitiveservices.azure.com"]);
  });

  it("replaces the defaults when set, and fails loudly on a bad entry", () => {
    expect(parseEgressAllowedHosts("api.openai.com, *.openai.azure.com,llm.example.com")).toEqual(["api.openai.com", "*.openai.azure.com", "llm.example.com"]);
    expect(() => parseEgressAllowedHosts("api.openai.com,169.254.169.254.nip.io")).toThrow(/EGRESS_ALLOWED_HOSTS/);
  });
});
