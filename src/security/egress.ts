// SSRF guard: decides whether an upstream URL may be fetched (public HTTPS only, to an allowed host;
// loopback only when allowed, for local dev/tests). The host lists themselves: egress-hosts.ts.
import { err, fail, ok, type Result } from "../errors";
import { parseCidr, parseIp, type ParsedCidr, type ParsedIp } from "./ip";

export interface EgressOptions {
  /** Local development and tests: allow loopback hosts (127/8, ::1, localhost), over http or https, on any port, listed or not. */
  allowLoopback: boolean;
  /**
   * Host patterns of the deployment (EGRESS_ALLOWED_HOSTS): exact names, or `*.suffix` for one more
   * label. When given, a public host must match one of these or `extraHosts`.
   */
  allowedHosts?: readonly string[];
  /** Exact host names a preset adds (`egress_hosts`); never patterns. */
  extraHosts?: readonly string[];
}

/*
 * Only globally routable unicast addresses pass. IPv4 ranges from the IANA special-purpose registry;
 * IPv6 must be inside 2000::/3 (global unicast) and outside the special blocks listed there. DNS
 * names cannot be resolved here, so a public name pointing at a private address is not caught: the
 * allowlist of upstream hosts (allowedHosts) is the defence for that.
 */
const BLOCKED_V4 = [
  "0.0.0.0/8", // "this network", unspecified
  "10.0.0.0/8",
  "100.64.0.0/10", // CGNAT (also Alibaba's metadata 100.100.100.200)
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata 169.254.169.254
  "172.16.0.0/12",
  "192.0.0.0/24", // IETF protocol assignments (Oracle metadata 192.0.0.192)
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
].map((c) => parseCidr(c)!);
const GLOBAL_V6 = parseCidr("2000::/3")!;
const BLOCKED_V6 = [
  "2001::/23", // IETF protocol assignments, incl. Teredo (embeds IPv4)
  "2001:db8::/32", // documentation
  "2002::/16", // 6to4 (embeds IPv4)
  "3fff::/20", // documentation
].map((c) => parseCidr(c)!);
const LOOPBACK_V4 = parseCidr("127.0.0.0/8")!;

const BLOCKED_NAMES = new Set(["metadata.google.internal", "metadata.goog"]);
const BLOCKED_SUFFIXES = [".internal", ".local", ".localdomain", ".arpa"];
/**
 * Public DNS services whose names resolve to whatever address the name spells (`10.0.0.1.nip.io`,
 * `7f000001.nip.io`), to loopback (`localtest.me`, `lvh.me`), or to a rebinding pair (`1u.ms`): a name
 * under one of these is an address in disguise. Not exhaustive; the host allowlist is the real defence.
 */
const ADDRESS_IN_DISGUISE_DOMAINS = [
  "nip.io", "xip.io", "sslip.io", "traefik.me", "localtest.me", "lvh.me", "vcap.me", "lacolhost.com", "localhost.direct", "1u.ms", "rbndr.us",
];

function inRange(ip: ParsedIp, cidr: ParsedCidr): boolean {
  if (ip.version !== cidr.version) return false;
  for (let bit = 0; bit < cidr.prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((ip.bytes[bit >> 3]! & mask) !== (cidr.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

type HostClass = "public" | "loopback" | "blocked";

function classifyIp(ip: ParsedIp): HostClass {
  if (ip.version === 4) {
    if (inRange(ip, LOOPBACK_V4)) return "loopback";
    return BLOCKED_V4.some((c) => inRange(ip, c)) ? "blocked" : "public";
  }
  if (ip.bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return "loopback";
  if (!inRange(ip, GLOBAL_V6)) return "blocked";
  return BLOCKED_V6.some((c) => inRange(ip, c)) ? "blocked" : "public";
}

/**
 * The legacy IPv4 spellings (inet_aton / WHATWG): 1 to 4 parts, each decimal, octal ("0"-prefixed)
 * or hex ("0x"), the last part filling the remaining bytes: `0x7f.1`, `2130706433`, `0177.0.0.1`.
 * WHATWG URL already rewrites these to dotted decimal; this is the second line, in case it did not.
 * Returns "not-ipv4" when the host does not end in a number (a domain name), null when it does but is invalid.
 */
export function parseLegacyIpv4(host: string): Uint8Array | null | "not-ipv4" {
  const parts = host.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  const last = parts[parts.length - 1] ?? "";
  if (!/^(0[xX][0-9a-fA-F]*|[0-9]+)$/.test(last)) return "not-ipv4";
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    let n: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(part)) n = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) n = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) n = Number(part);
    else return null;
    if (!Number.isSafeInteger(n)) return null;
    values.push(n);
  }
  const lastValue = values.pop()!;
  if (values.some((v) => v > 255) || lastValue >= 256 ** (4 - values.length)) return null;
  const out = new Uint8Array(4);
  values.forEach((v, i) => (out[i] = v));
  for (let i = 3, rest = lastValue; i >= values.length; i--, rest = Math.floor(rest / 256)) out[i] = rest % 256;
  return out;
}

export function normaliseHost(host: string): string {
  let h = host.toLowerCase();
  while (h.endsWith(".")) h = h.slice(0, -1);
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h;
}

/** The first IPv4 address a name spells with four decimal labels (`10.0.0.1.example`) or dashes (`10-0-0-1.example`). */
function embeddedIpv4(host: string): Uint8Array | undefined {
  const octet = (s: string) => (/^(0|[1-9][0-9]{0,2})$/.test(s) && Number(s) <= 255 ? Number(s) : undefined);
  const quad = (parts: string[]) => {
    const bytes = parts.map(octet);
    return bytes.every((b) => b !== undefined) ? Uint8Array.from(bytes as number[]) : undefined;
  };
  const labels = host.split(".");
  for (let i = 0; i + 4 <= labels.length; i++) {
    const found = quad(labels.slice(i, i + 4));
    if (found) return found;
  }
  for (const label of labels) {
    const m = /(?:^|[^0-9])([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})(?:$|[^0-9])/.exec(label);
    const found = m && quad(m.slice(1, 5));
    if (found) return found;
  }
  return undefined;
}

const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);

export function classifyHost(host: string): { cls: HostClass; why?: string } {
  if (host === "") return { cls: "blocked", why: "empty host" };
  if (host.includes(":")) {
    const ip = parseIp(host);
    return ip ? { cls: classifyIp(ip), why: "non-public IP address" } : { cls: "blocked", why: "unparsable IPv6 address" };
  }
  const v4 = parseLegacyIpv4(host);
  if (v4 === null) return { cls: "blocked", why: "unparsable IPv4 address" };
  if (v4 !== "not-ipv4") return { cls: classifyIp({ version: 4, bytes: v4 }), why: "non-public IP address" };
  if (host === "localhost" || host.endsWith(".localhost")) return { cls: "loopback", why: "localhost" };
  if (!host.includes(".")) return { cls: "blocked", why: "single-label host name" };
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) {
    return { cls: "blocked", why: "internal host name" };
  }
  if (ADDRESS_IN_DISGUISE_DOMAINS.some((d) => under(host, d))) return { cls: "blocked", why: "a wildcard-DNS or loopback alias domain" };
  const spelled = embeddedIpv4(host);
  if (spelled && classifyIp({ version: 4, bytes: spelled }) !== "public") return { cls: "blocked", why: "host name spells a non-public IP address" };
  return { cls: "public" };
}

const deny = (why: string): Result<URL> => err(fail("egress_denied", `Upstream URL rejected: ${why}.`));

/** `*.suffix` matches exactly one more label (as in TLS certificates); anything else is an exact name. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  const h = normaliseHost(host);
  return patterns.some((raw) => {
    const p = normaliseHost(raw);
    if (!p.startsWith("*.")) return p === h;
    const suffix = p.slice(1);
    return h.endsWith(suffix) && h.length > suffix.length && !h.slice(0, -suffix.length).includes(".");
  });
}

/**
 * Call before every upstream fetch, and fetch the returned `url` (not the original string), so the
 * checked URL and the fetched URL cannot differ. Rejected: schemes other than https (http only for
 * allowed loopback), credentials in the URL, ports other than 443 (any port on allowed loopback),
 * non-public IP literals in any spelling, localhost and internal names, names that spell a private
 * address or belong to a wildcard-DNS service, and, with allowedHosts, any host not listed (loopback,
 * when allowed, is exempt: it is the local mock provider).
 */
export function checkEgressUrl(raw: string, opts: EgressOptions): Result<URL> {
  // The URL parser silently drops tabs/newlines and treats "\" as "/": refuse such strings outright.
  if (raw.length > 2048 || /[\u0000-\u0020\u007f\\]/.test(raw)) return deny("control characters, spaces or backslashes");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return deny("not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return deny(`scheme ${url.protocol} is not allowed`);
  if (url.username !== "" || url.password !== "") return deny("credentials in the URL");

  const host = normaliseHost(url.hostname);
  const { cls, why } = classifyHost(host);
  if (cls === "blocked") return deny(why ?? "host not allowed");
  if (cls === "loopback") {
    if (!opts.allowLoopback) return deny(why === "localhost" ? "localhost" : "loopback address");
  } else {
    if (url.protocol !== "https:") return deny("only https is allowed");
    // WHATWG drops the default port, so an explicit :443 also leaves port empty.
    if (url.port !== "") return deny(`port ${url.port} is not allowed`);
  }
  if (cls === "public" && opts.allowedHosts && !hostMatches(host, opts.allowedHosts) && !(opts.extraHosts ?? []).some((h) => normaliseHost(h) === host)) {
    return deny(`host ${host} is not in the egress allowlist`);
  }
  return ok(url);
}
