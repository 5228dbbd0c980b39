// SSRF guard: every private, loopback, metadata or odd-scheme/port upstream URL is refused before any fetch.
import { describe, expect, it } from "vitest";
import { statusOf } from "../errors";
import { checkEgressUrl, parseLegacyIpv4, type EgressOptions } from "./egress";

const PROD: EgressOptions = { allowLoopback: false };
const DEV: EgressOptions = { allowLoopback: true };

function verdict(url: string, opts: EgressOptions = PROD): string {
  const r = checkEgressUrl(url, opts);
  return r.ok ? `ok ${r.value.href}` : r.failure.kind;
}

describe("checkEgressUrl: allowed", () => {
  it.each([
    ["https://api.openai.com/v1", "https://api.openai.com/v1"],
    ["https://api.openai.com:443/v1/", "https://api.openai.com/v1/"],
    ["https://API.Anthropic.com/v1/messages", "https://api.anthropic.com/v1/messages"],
    ["https://my-resource.openai.azure.com/openai/deployments/x?api-version=2024-10-21", "https://my-resource.openai.azure.com/openai/deployments/x?api-version=2024-10-21"],
    ["https://8.8.8.8/", "https://8.8.8.8/"],
    ["https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"],
    ["https://example.com./x", "https://example.com./x"],
  ])("%s", (url, href) => {
    expect(verdict(url)).toBe(`ok ${href}`);
  });

  it("returns the parsed URL to fetch, as a 502 egress_denied failure otherwise", () => {
    const r = checkEgressUrl("https://api.openai.com/v1", PROD);
    expect(r.ok && r.value instanceof URL).toBe(true);
    const denied = checkEgressUrl("https://127.0.0.1/", PROD);
    expect(denied.ok ? null : statusOf(denied.failure)).toBe(502);
  });
});

describe("checkEgressUrl: rejected IP literals, in every spelling", () => {
  it.each([
    // loopback, encoded the ways the URL parser and inet_aton accept
    "https://127.0.0.1/", "https://127.1/", "https://0x7f.1/", "https://2130706433/", "https://017700000001/",
    "https://0177.0.0.1/", "https://0x7f000001/", "https://0x7f.0x00.0x00.0x01/", "https://127.0.0.1./", "https://127.255.255.254/",
    "https://%31%32%37.0.0.1/", "https://\uff11\uff12\uff17.0.0.1/", "https://[::1]/", "https://[0:0:0:0:0:0:0:1]/",
    "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/",
    // unspecified, private, CGNAT, link-local and metadata
    "https://0.0.0.0/", "https://0/", "https://[::]/", "https://10.0.0.1/", "https://172.16.0.1/", "https://172.31.255.255/",
    "https://192.168.1.1/", "https://100.64.0.1/", "https://100.100.100.200/", "https://169.254.169.254/latest/meta-data/",
    "https://0xa9.0xfe.0xa9.0xfe/", "https://2852039166/", "https://[::ffff:169.254.169.254]/", "https://[fd00:ec2::254]/",
    "https://[fe80::1]/", "https://[fc00::1]/", "https://[fec0::1]/",
    // reserved, documentation, multicast, broadcast, transition ranges
    "https://192.0.0.192/", "https://192.0.2.1/", "https://198.18.0.1/", "https://198.51.100.1/", "https://203.0.113.1/",
    "https://224.0.0.1/", "https://239.255.255.250/", "https://240.0.0.1/", "https://255.255.255.255/", "https://[ff02::1]/",
    "https://[2001:db8::1]/", "https://[64:ff9b::7f00:1]/", "https://[2002:7f00:1::]/", "https://[2001::1]/", "https://[::127.0.0.1]/",
    "https://[100::1]/", "https://[3fff::1]/",
  ])("%s", (url) => {
    expect(verdict(url)).toBe("egress_denied");
    expect(verdict(url.replace("https:", "http:"))).toBe("egress_denied");
  });
});

describe("checkEgressUrl: rejected names, schemes, ports and shapes", () => {
  it.each([
    "https://localhost/", "https://LOCALHOST/", "https://localhost./", "https://api.localhost/", "https://a.b.localhost./",
    "https://metadata.google.internal/computeMetadata/v1/", "https://metadata.google.internal./", "https://METADATA.Google.Internal/",
    "https://metadata/", "https://instance-data/", "https://metadata.goog/", "https://printer.local/", "https://db.svc.cluster.local/",
    "https://intranet.internal/", "https://box.localdomain/", "https://1.0.0.127.in-addr.arpa/",
  ])("name %s", (url) => {
    expect(verdict(url)).toBe("egress_denied");
  });

  it.each([
    "http://api.openai.com/v1", "file:///etc/passwd", "gopher://api.openai.com:70/_x", "ftp://api.openai.com/", "ws://api.openai.com/",
    "wss://api.openai.com/", "data:text/plain,hi", "javascript:alert(1)", "blob:https://api.openai.com/x", "dict://127.0.0.1:11211/",
    "//api.openai.com/v1", "/v1/chat", "api.openai.com", "", "https://", "https:///x", "https://[::1/", "https://[fe80::1%25eth0]/",
    "https://256.0.0.1/", "https://1.2.3.4.5/", "https://a.b.0x7f/",
  ])("scheme or shape %j", (url) => {
    expect(verdict(url)).toBe("egress_denied");
  });

  it.each(["https://api.openai.com:8443/", "https://api.openai.com:80/", "https://api.openai.com:22/", "https://api.openai.com:0/", "https://8.8.8.8:444/"])(
    "port %s",
    (url) => {
      expect(verdict(url)).toBe("egress_denied");
    },
  );

  it.each([
    "https://user:pass@api.openai.com/", "https://user@api.openai.com/", "https://:pass@api.openai.com/",
    "https://api.openai.com@127.0.0.1/", "https://api.openai.com\\@evil.com/", "https://api.openai.com\t/", "https://api.open\nai.com/",
    " https://api.openai.com/", "https://api.openai.com/ x", `https://api.openai.com/${"a".repeat(2100)}`,
  ])("credentials, whitespace, backslashes or length %j", (url) => {
    expect(verdict(url)).toBe("egress_denied");
  });
});

describe("checkEgressUrl with allowLoopback (local development and tests)", () => {
  it.each([
    ["http://127.0.0.1:8787/v1", "http://127.0.0.1:8787/v1"],
    ["https://127.0.0.1/", "https://127.0.0.1/"],
    ["http://[::1]:3000/", "http://[::1]:3000/"],
    ["http://localhost:8080/", "http://localhost:8080/"],
    ["http://0x7f.1:9000/", "http://127.0.0.1:9000/"],
  ])("allows %s", (url, href) => {
    expect(verdict(url, DEV)).toBe(`ok ${href}`);
  });

  it("still refuses everything that is not loopback", () => {
    for (const url of ["http://api.openai.com/", "https://api.openai.com:8443/", "http://10.0.0.1:8080/", "https://169.254.169.254/",
      "http://[fd00:ec2::254]/", "http://0.0.0.0:8787/", "file:///etc/passwd", "http://user:pw@127.0.0.1:8787/"]) {
      expect(verdict(url, DEV)).toBe("egress_denied");
    }
  });
});

describe("checkEgressUrl with allowedHosts", () => {
  it("requires an exact, case-insensitive host match, trailing dot ignored", () => {
    const opts = { allowLoopback: false, allowedHosts: ["API.OpenAI.com.", "api.anthropic.com"] };
    expect(verdict("https://api.openai.com/v1", opts)).toBe("ok https://api.openai.com/v1");
    expect(verdict("https://api.anthropic.com./v1", opts)).toBe("ok https://api.anthropic.com./v1");
    expect(verdict("https://x.api.openai.com/v1", opts)).toBe("egress_denied");
    expect(verdict("https://openai.com/v1", opts)).toBe("egress_denied");
    expect(verdict("https://api.openai.com.evil.com/v1", opts)).toBe("egress_denied");
    expect(verdict("https://8.8.8.8/", opts)).toBe("egress_denied");
    expect(verdict("https://169.254.169.254/", { allowLoopback: false, allowedHosts: ["169.254.169.254"] })).toBe("egress_denied");
  });

  it("exempts loopback only when loopback is allowed (the local mock provider is never listed)", () => {
    const opts = { allowLoopback: false, allowedHosts: ["api.openai.com"] };
    expect(verdict("http://127.0.0.1:9100/v1", opts)).toBe("egress_denied");
    expect(verdict("http://127.0.0.1:9100/v1", { ...opts, allowLoopback: true })).toBe("ok http://127.0.0.1:9100/v1");
  });

  it("`*.suffix` matches exactly one more label; a preset's extra hosts match exactly and never as patterns", () => {
    const opts = { allowLoopback: false, allowedHosts: ["*.openai.azure.com"], extraHosts: ["llm.example.com", "*.example.net"] };
    expect(verdict("https://contoso.openai.azure.com/openai", opts)).toBe("ok https://contoso.openai.azure.com/openai");
    expect(verdict("https://CONTOSO.openai.azure.com./x", opts)).toBe("ok https://contoso.openai.azure.com./x");
    for (const url of ["https://openai.azure.com/", "https://a.b.openai.azure.com/", "https://evilopenai.azure.com/", "https://x.openai.azure.com.evil.com/"]) {
      expect(verdict(url, opts), url).toBe("egress_denied");
    }
    expect(verdict("https://llm.example.com/v1", opts)).toBe("ok https://llm.example.com/v1");
    expect(verdict("https://a.llm.example.com/v1", opts)).toBe("egress_denied");
    expect(verdict("https://a.example.net/v1", opts)).toBe("egress_denied");
  });
});

describe("checkEgressUrl: names that are addresses in disguise (refused even when listed)", () => {
  it.each([
    "https://169.254.169.254.nip.io/latest/meta-data/", "https://localtest.me/", "https://10.0.0.1.xip.io/", "https://app.localtest.me/",
    "https://127-0-0-1.sslip.io/", "https://7f000001.nip.io/", "https://lvh.me/", "https://a.b.vcap.me/", "https://169-254-169-254.example.com/",
    "https://api.10.1.2.3.example.com/", "https://x-192-168-0-1-y.example.org/", "https://make-127.0.0.1-rr.1u.ms/",
  ])("%s", (url) => {
    const host = new URL(url).hostname;
    expect(verdict(url)).toBe("egress_denied");
    expect(verdict(url, { allowLoopback: true, allowedHosts: [host, `*.${host.split(".").slice(1).join(".")}`], extraHosts: [host] })).toBe("egress_denied");
  });

  it("a name that spells a public address is an ordinary name", () => {
    expect(verdict("https://ec2-54-1-2-3.compute.example.com/")).toBe("ok https://ec2-54-1-2-3.compute.example.com/");
    expect(verdict("https://v1.2.3.example.com/")).toBe("ok https://v1.2.3.example.com/");
  });
});

describe("parseLegacyIpv4", () => {
  const text = (r: ReturnType<typeof parseLegacyIpv4>) => (r instanceof Uint8Array ? Array.from(r).join(".") : r);
  it.each([
    ["0x7f.1", "127.0.0.1"], ["2130706433", "127.0.0.1"], ["017700000001", "127.0.0.1"], ["127.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"], ["0x7f000001", "127.0.0.1"], ["127.0.0.1.", "127.0.0.1"], ["0", "0.0.0.0"], ["0x", "0.0.0.0"],
    ["10.0x10.1", "10.16.0.1"], ["1.2.3.4", "1.2.3.4"], ["4294967295", "255.255.255.255"],
    ["example.com", "not-ipv4"], ["0x7f.example", "not-ipv4"], ["a.b.0x", null], ["1.2.3.4.5", null], ["256.1.1.1", null],
    ["08.1.1.1", null], ["4294967296", null], ["1.16777216", null], ["0xfg.1", null], ["1.0xfg", "not-ipv4"],
  ])("%s -> %s", (host, expected) => {
    expect(text(parseLegacyIpv4(host))).toBe(expected);
  });
});
