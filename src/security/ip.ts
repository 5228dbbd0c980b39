// The one place client addresses and CIDRs are parsed and canonicalized (allowlists, per-IP rate limits,
// the egress guard), on ipaddr.js. IPv4-mapped IPv6 counts as IPv4; only strict spellings are accepted.
import ipaddr from "ipaddr.js";

export type ParsedIp = { version: 4; bytes: Uint8Array } | { version: 6; bytes: Uint8Array };
export interface ParsedCidr {
  version: 4 | 6;
  /** Network address, host bits cleared. */
  bytes: Uint8Array;
  prefix: number;
}

/** IPv6 buckets per-IP rate limits by network: one subscriber usually holds a whole /64 (RFC 6177). */
export const DEFAULT_IPV6_RATE_LIMIT_PREFIX = 64;
/** A tenant may bucket wider (down to /32, a whole provider allocation) or narrower (up to one address). */
export const IPV6_RATE_LIMIT_PREFIX_MIN = 32;
export const IPV6_RATE_LIMIT_PREFIX_MAX = 128;
/** The bucket every unparsable address shares, so that garbage spellings cannot each get a fresh allowance. */
export const UNPARSABLE_IP_BUCKET = "unparsable";

/**
 * Dotted decimal only, no leading zeros. ipaddr.js's parse() also takes the inet_aton spellings
 * ("0x7f.1", "2130706433", "010.0.0.1", octal to some parsers): ambiguous, so refused here.
 */
function parseIpv4(text: string): Uint8Array | null {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
  return Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray());
}

/**
 * A trailing dotted quad becomes two hex groups before ipaddr.js sees the text: the library reads
 * "::a.b.c.d" as the mapped "::ffff:a.b.c.d" and accepts leading zeros in the quad, so "::1.2.3.4" and
 * "::102:304", one address, would canonicalize differently. Zone ids ("fe80::1%eth0") name a local
 * interface; they never belong in an allowlist or a client address, so '%' is refused with the rest.
 */
function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let hexOnly = text;
  if (text.includes(".")) {
    const lastColon = text.lastIndexOf(":");
    const quad = parseIpv4(text.slice(lastColon + 1));
    if (!quad || text.slice(0, lastColon).includes(".")) return null;
    const group = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    hexOnly = `${text.slice(0, lastColon + 1)}${group(quad[0]!, quad[1]!)}:${group(quad[2]!, quad[3]!)}`;
  }
  if (!ipaddr.IPv6.isValid(hexOnly)) return null;
  return Uint8Array.from(ipaddr.IPv6.parse(hexOnly).toByteArray());
}

/** True for ::ffff:a.b.c.d, which is an IPv4 address carried in IPv6. */
function isV4Mapped(bytes: Uint8Array): boolean {
  return bytes.length === 16 && (ipaddr.fromByteArray(Array.from(bytes)) as ipaddr.IPv6).isIPv4MappedAddress();
}

/** IPv4 (strict dotted decimal) or IPv6 (no brackets, no zone id); `::ffff:1.2.3.4` and `::ffff:102:304` become IPv4. */
export function parseIp(text: string): ParsedIp | null {
  if (text.length === 0 || text.length > 45) return null;
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 ? { version: 4, bytes: v4 } : null;
  }
  const v6 = parseIpv6(text);
  if (!v6) return null;
  if (isV4Mapped(v6)) return { version: 4, bytes: v6.slice(12) };
  return { version: 6, bytes: v6 };
}

/** Canonical text: dotted decimal, or RFC 5952 IPv6 (lower-case, longest zero run as "::"). */
export function formatIp(ip: ParsedIp): string {
  const address = ipaddr.fromByteArray(Array.from(ip.bytes));
  return address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/** The one canonical spelling of an address (see formatIp), or null when it is not a strict address. */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : null;
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const mask = bytes.length === 4 ? ipaddr.IPv4.subnetMaskFromPrefixLength(prefix) : ipaddr.IPv6.subnetMaskFromPrefixLength(prefix);
  const maskBytes = mask.toByteArray();
  return bytes.map((b, i) => b & maskBytes[i]!);
}

/**
 * `a.b.c.d/n` (0-32), `v6/n` (0-128) or a bare address (/32 or /128). Host bits are cleared, so
 * "10.1.2.3/8" means 10.0.0.0/8. An IPv4-mapped IPv6 network needs a prefix of at least 96 and
 * becomes the IPv4 network. Anything else, including whitespace, is null.
 */
export function parseCidr(text: string): ParsedCidr | null {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);
  if (prefixText !== null && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return null;
  if (addressText.includes(":")) {
    const v6 = parseIpv6(addressText);
    if (!v6) return null;
    const prefix = prefixText === null ? 128 : Number(prefixText);
    if (prefix > 128) return null;
    if (isV4Mapped(v6)) {
      if (prefix < 96) return null;
      return { version: 4, bytes: maskBytes(v6.slice(12), prefix - 96), prefix: prefix - 96 };
    }
    return { version: 6, bytes: maskBytes(v6, prefix), prefix };
  }
  const v4 = parseIpv4(addressText);
  if (!v4) return null;
  const prefix = prefixText === null ? 32 : Number(prefixText);
  if (prefix > 32) return null;
  return { version: 4, bytes: maskBytes(v4, prefix), prefix };
}

export function isValidCidr(text: string): boolean {
  return parseCidr(text) !== null;
}

export function ipInCidr(ip: ParsedIp, cidr: ParsedCidr): boolean {
  if (ip.version !== cidr.version) return false;
  const address = ipaddr.fromByteArray(Array.from(ip.bytes));
  return address.match(ipaddr.fromByteArray(Array.from(cidr.bytes)), cidr.prefix);
}

/**
 * Whether `ip` (e.g. CF-Connecting-IP) falls in any entry. An unparsable ip matches nothing and an
 * unparsable entry is skipped (fail closed). An empty list matches nothing: whether "no allowlist"
 * means "allow all" is the caller's policy, not this function's.
 */
export function ipInAllowlist(ip: string, cidrs: readonly string[]): boolean {
  const parsed = parseIp(ip);
  if (!parsed) return false;
  for (const entry of cidrs) {
    const cidr = parseCidr(entry);
    if (cidr && ipInCidr(parsed, cidr)) return true;
  }
  return false;
}

/**
 * The caller per-IP rate limits count: the canonical IPv4 address, or the IPv6 network at `ipv6Prefix`
 * as CIDR text ("2001:db8:1:2::/64"), so that every spelling of one address, the mapped form of an IPv4
 * address and the many addresses of one subscriber's network are one caller. Unparsable text (never
 * sent by Cloudflare's edge) shares one bucket instead of each spelling getting its own.
 */
export function ipRateLimitBucket(text: string, ipv6Prefix: number = DEFAULT_IPV6_RATE_LIMIT_PREFIX): string {
  const ip = parseIp(text);
  if (!ip) return UNPARSABLE_IP_BUCKET;
  if (ip.version === 4) return formatIp(ip);
  const prefix = Math.min(IPV6_RATE_LIMIT_PREFIX_MAX, Math.max(IPV6_RATE_LIMIT_PREFIX_MIN, Math.trunc(ipv6Prefix)));
  return `${formatIp({ version: 6, bytes: maskBytes(ip.bytes, prefix) })}/${prefix}`;
}
