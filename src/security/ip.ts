// Strict IP and CIDR parsing for CF-Connecting-IP and per-key allowlists (IPv4-mapped IPv6 counts as IPv4).

export type ParsedIp = { version: 4; bytes: Uint8Array } | { version: 6; bytes: Uint8Array };
export interface ParsedCidr {
  version: 4 | 6;
  /** Network address, host bits cleared. */
  bytes: Uint8Array;
  prefix: number;
}

/** Dotted decimal only, no leading zeros: "010.0.0.1" is ambiguous (octal to some parsers), so it is rejected. */
function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  // Zone ids ("fe80::1%eth0") name a local interface; they never belong in an allowlist or a client address.
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const pieces = s.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  // An embedded IPv4 is only allowed at the very end.
  if (halves.length === 2 && halves[0]!.includes(".")) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** True for ::ffff:a.b.c.d, which is an IPv4 address carried in IPv6. */
function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
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
  if (ip.version === 4) return Array.from(ip.bytes).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
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
  const masked = maskBytes(ip.bytes, cidr.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== cidr.bytes[i]) return false;
  return true;
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
