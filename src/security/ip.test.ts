// IP and CIDR parsing for allowlists: strict forms only, IPv4-mapped IPv6 as IPv4, property checks of matching.
import { describe, expect, it } from "vitest";
import { canonicalIp, formatIp, ipInAllowlist, ipInCidr, ipRateLimitBucket, isValidCidr, parseCidr, parseIp, UNPARSABLE_IP_BUCKET, type ParsedIp } from "./ip";

describe("parseIp", () => {
  it.each([
    ["1.2.3.4", 4, "1.2.3.4"],
    ["0.0.0.0", 4, "0.0.0.0"],
    ["255.255.255.255", 4, "255.255.255.255"],
    ["::", 6, "::"],
    ["::1", 6, "::1"],
    ["2001:DB8::1", 6, "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", 6, "2001:db8::1:0:0:1"],
    ["fe80::1", 6, "fe80::1"],
    ["1:2:3:4:5:6:7:8", 6, "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6::8", 6, "1:2:3:4:5:6:0:8"],
    ["::ffff:1.2.3.4", 4, "1.2.3.4"],
    ["::ffff:102:304", 4, "1.2.3.4"],
    ["0:0:0:0:0:ffff:7f00:1", 4, "127.0.0.1"],
    ["64:ff9b::1.2.3.4", 6, "64:ff9b::102:304"],
    ["::1.2.3.4", 6, "::102:304"],
  ])("%s is IPv%i %s", (text, version, formatted) => {
    const ip = parseIp(text);
    expect(ip?.version).toBe(version);
    expect(formatIp(ip!)).toBe(formatted);
  });

  it.each([
    "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.04", " 1.2.3.4", "1.2.3.4 ", "1..2.3", "a.b.c.d",
    "0x7f.0.0.1", "2130706433", "127.1", "1.2.3.4/32", "fe80::1%eth0", "fe80::1%25eth0", "[::1]", ":::", "1::2::3",
    "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "g::1",
    ":1::", "1::2:", "1.2.3.4, 5.6.7.8", "::ffff:1.2.3.256", "x".repeat(100),
  ])("rejects %j", (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it("formats random addresses so that they parse back to the same bytes", () => {
    for (let i = 0; i < 500; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      if (i % 3 === 0) bytes.fill(0, 2 + (i % 10), 12); // long zero runs
      const ip: ParsedIp = { version: 6, bytes };
      const back = parseIp(formatIp(ip));
      if (back?.version === 4) continue; // landed in ::ffff:0:0/96
      expect(back?.bytes).toEqual(bytes);
    }
  });
});

describe("parseCidr", () => {
  it.each([
    ["10.0.0.0/8", 4, "10.0.0.0", 8],
    ["10.1.2.3/8", 4, "10.0.0.0", 8],
    ["192.168.1.77/30", 4, "192.168.1.76", 30],
    ["1.2.3.4", 4, "1.2.3.4", 32],
    ["0.0.0.0/0", 4, "0.0.0.0", 0],
    ["::/0", 6, "::", 0],
    ["2001:db8::/32", 6, "2001:db8::", 32],
    ["2001:db8:ffff::1/33", 6, "2001:db8:8000::", 33],
    ["::1", 6, "::1", 128],
    ["::ffff:10.0.0.0/104", 4, "10.0.0.0", 8],
  ])("%s -> %s %s/%i", (text, version, network, prefix) => {
    const cidr = parseCidr(text)!;
    expect(cidr.version).toBe(version);
    expect(formatIp({ version: cidr.version, bytes: cidr.bytes } as ParsedIp)).toBe(network);
    expect(cidr.prefix).toBe(prefix);
    expect(isValidCidr(text)).toBe(true);
  });

  it.each(["", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0 /8", "10.0.0.0/ 8",
    "::/129", "::ffff:0:0/95", "fe80::1%eth0/64", "10.0.0/8", "999.0.0.0/8", "10.0.0.0/8 ", "any", "*"])("rejects %j", (text) => {
    expect(parseCidr(text)).toBeNull();
    expect(isValidCidr(text)).toBe(false);
  });
});

describe("ipInAllowlist", () => {
  it("matches addresses inside any listed network, per family", () => {
    const list = ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"];
    expect(ipInAllowlist("10.200.1.1", list)).toBe(true);
    expect(ipInAllowlist("203.0.113.7", list)).toBe(true);
    expect(ipInAllowlist("203.0.113.8", list)).toBe(false);
    expect(ipInAllowlist("11.0.0.1", list)).toBe(false);
    expect(ipInAllowlist("2001:db8:1::5", list)).toBe(true);
    expect(ipInAllowlist("2001:db9::5", list)).toBe(false);
    expect(ipInAllowlist("::ffff:10.1.2.3", list)).toBe(true);
    expect(ipInAllowlist("0.0.0.1", ["0.0.0.0/0"])).toBe(true);
    expect(ipInAllowlist("1.2.3.4", ["::/0"])).toBe(false);
  });

  it("fails closed: empty list, garbage entries and garbage addresses match nothing", () => {
    expect(ipInAllowlist("10.0.0.1", [])).toBe(false);
    expect(ipInAllowlist("10.0.0.1", ["garbage", "10.0.0.0/99", "*"])).toBe(false);
    expect(ipInAllowlist("10.0.0.1", ["garbage", "10.0.0.0/8"])).toBe(true);
    // An X-Forwarded-For style list is not an address: only a single CF-Connecting-IP value can match.
    expect(ipInAllowlist("10.0.0.1, 203.0.113.7", ["10.0.0.0/8", "203.0.113.7"])).toBe(false);
    expect(ipInAllowlist("", ["0.0.0.0/0"])).toBe(false);
    expect(ipInAllowlist("fe80::1%eth0", ["::/0"])).toBe(false);
  });

  it("property: an address is in every prefix of itself; one bit flipped inside the prefix leaves it, outside keeps it", () => {
    for (let i = 0; i < 1000; i++) {
      const v4 = i % 2 === 0;
      const size = v4 ? 4 : 16;
      const bytes = crypto.getRandomValues(new Uint8Array(size));
      if (!v4) bytes[0] = 0x20 | (bytes[0]! & 0x1f); // stay away from ::ffff:0:0/96
      const ip: ParsedIp = { version: v4 ? 4 : 6, bytes };
      const text = formatIp(ip);
      const prefix = 1 + Math.floor(Math.random() * (size * 8 - 1));
      const cidr = parseCidr(`${text}/${prefix}`)!;
      expect(ipInCidr(ip, cidr)).toBe(true);
      expect(ipInAllowlist(text, [`${text}/${prefix}`])).toBe(true);
      const flip = (bit: number) => {
        const b = bytes.slice();
        b[bit >> 3] = b[bit >> 3]! ^ (0x80 >> bit % 8);
        return formatIp({ version: ip.version, bytes: b } as ParsedIp);
      };
      expect(ipInAllowlist(flip(Math.floor(Math.random() * prefix)), [`${text}/${prefix}`])).toBe(false);
      if (prefix < size * 8) {
        const outside = prefix + Math.floor(Math.random() * (size * 8 - prefix));
        expect(ipInAllowlist(flip(outside), [`${text}/${prefix}`])).toBe(true);
      }
    }
  });
});

describe("canonicalIp and ipRateLimitBucket", () => {
  it("every spelling of one address has one canonical text", () => {
    const spellings = ["2001:db8:0:0:1:0:0:1", "2001:DB8::1:0:0:1", "2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8:0::1:0:0:1"];
    expect(new Set(spellings.map(canonicalIp))).toEqual(new Set(["2001:db8::1:0:0:1"]));
    expect(new Set(["203.0.113.9", "::ffff:203.0.113.9", "::FFFF:cb00:7109", "0:0:0:0:0:ffff:203.0.113.9"].map(canonicalIp))).toEqual(new Set(["203.0.113.9"]));
    // "::1.2.3.4" is the IPv4-compatible form, not the mapped one: the same address as "::102:304".
    expect(canonicalIp("::1.2.3.4")).toBe(canonicalIp("::102:304"));
    expect(canonicalIp("garbage")).toBeNull();
  });

  it("IPv4 is bucketed per address, IPv6 per network of the prefix (default /64, kept within 32..128)", () => {
    expect(ipRateLimitBucket("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(ipRateLimitBucket("2001:db8:aa:1:dead:beef:0:1")).toBe("2001:db8:aa:1::/64");
    expect(ipRateLimitBucket("2001:DB8:AA:1::FFFF")).toBe("2001:db8:aa:1::/64");
    expect(ipRateLimitBucket("2001:db8:aa:1::1", 48)).toBe("2001:db8:aa::/48");
    expect(ipRateLimitBucket("2001:db8:aa:1::1", 128)).toBe("2001:db8:aa:1::1/128");
    expect(ipRateLimitBucket("2001:db8:aa:1::1", 8)).toBe("2001:db8::/32");
    expect(ipRateLimitBucket("2001:db8:aa:1::1", 500)).toBe("2001:db8:aa:1::1/128");
    for (const garbage of ["", "garbage", "010.0.0.1", "10.0.0.1, 10.0.0.2", "fe80::1%eth0"]) expect(ipRateLimitBucket(garbage)).toBe(UNPARSABLE_IP_BUCKET);
  });

  it("property: random addresses of one /64 share its bucket; a bit flipped inside the prefix leaves it", () => {
    for (let i = 0; i < 500; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      bytes[0] = 0x20 | (bytes[0]! & 0x1f);
      const other = bytes.slice();
      crypto.getRandomValues(other.subarray(8));
      const bucket = ipRateLimitBucket(formatIp({ version: 6, bytes }));
      expect(ipRateLimitBucket(formatIp({ version: 6, bytes: other }))).toBe(bucket);
      const bit = Math.floor(Math.random() * 64);
      other[bit >> 3] = other[bit >> 3]! ^ (0x80 >> bit % 8);
      expect(ipRateLimitBucket(formatIp({ version: 6, bytes: other }))).not.toBe(bucket);
    }
  });
});
