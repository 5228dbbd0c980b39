// The browser origins an API key may be used from (`allowed_origins`): exact origins
// (`https://app.example.com`, `http://localhost:5173`) and subdomain patterns (`https://*.example.com`,
// any depth, never the apex), matched against the Origin header a browser sends.

const PATTERN_MAX_LENGTH = 300;
/** A browser serializes an Origin in this form: lower-case scheme and host, no default port, no path. */
const ORIGIN_FORM = /^(https?:\/\/)([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/;
/** Labels of a host a subdomain pattern may be looked up by (preflights try each suffix). */
const MAX_HOST_LABELS = 10;

export type OriginPatternResult = { ok: true; pattern: string } | { ok: false; problem: string };

const isIpHost = (host: string) => host.startsWith("[") || /^[0-9.]+$/.test(host);

/** Validates one configured entry and returns its canonical form (what is stored and matched). */
export function parseOriginPattern(raw: string): OriginPatternResult {
  const text = raw.trim();
  if (text === "*") return { ok: false, problem: "'*' is not accepted: list the origins (a subdomain pattern like https://*.example.com covers many)" };
  if (text.length > PATTERN_MAX_LENGTH) return { ok: false, problem: `must be at most ${PATTERN_MAX_LENGTH} characters` };
  const wildcard = /^(https?):\/\/\*\.(.+)$/i.exec(text);
  const candidate = wildcard ? `${wildcard[1]}://wildcard.${wildcard[2]}` : text;
  // No path, query, fragment or user info: an origin is scheme, host and port only.
  if (!/^https?:\/\/[^/?#@\\]+$/i.test(candidate)) return { ok: false, problem: "must be an origin: http(s)://host[:port], with no path" };
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return { ok: false, problem: "must be an origin: http(s)://host[:port]" };
  }
  const origin = url.origin;
  if (!ORIGIN_FORM.test(origin)) return { ok: false, problem: "must be an origin with an ASCII (punycode) host name" };
  if (!wildcard) return { ok: true, pattern: origin };
  const suffix = url.hostname.slice("wildcard.".length);
  if (isIpHost(url.hostname) || isIpHost(suffix) || !suffix.includes(".") || suffix.startsWith(".") || suffix.split(".").length >= MAX_HOST_LABELS) {
    return { ok: false, problem: "a subdomain pattern needs a domain of at least two labels after '*.' (https://*.example.com)" };
  }
  return { ok: true, pattern: `${url.protocol}//*.${suffix}${url.port ? `:${url.port}` : ""}` };
}

interface OriginParts {
  scheme: string;
  host: string;
  port: string;
}

function originParts(origin: string): OriginParts | undefined {
  const m = ORIGIN_FORM.exec(origin);
  return m ? { scheme: m[1]!, host: m[2]!, port: m[3] ?? "" } : undefined;
}

/** True when the browser origin is one of the patterns (exactly, or a subdomain of a `*.` pattern). */
export function originAllowed(patterns: readonly string[] | undefined, origin: string): boolean {
  if (!patterns || patterns.length === 0) return false;
  if (patterns.includes(origin)) return true;
  const parts = originParts(origin);
  if (!parts || isIpHost(parts.host)) return false;
  for (const pattern of patterns) {
    if (!pattern.includes("://*.")) continue;
    const wanted = originParts(pattern.replace("://*.", "://"));
    if (wanted && wanted.scheme === parts.scheme && wanted.port === parts.port && parts.host.endsWith(`.${wanted.host}`)) return true;
  }
  return false;
}

/**
 * Every stored pattern that could allow this origin: the origin itself, then `*.` over each parent
 * domain of at least two labels. A preflight looks each up in the origin index (origin-index.ts).
 */
export function patternsCovering(origin: string): string[] {
  const parts = originParts(origin);
  if (!parts) return [];
  const out = [origin];
  if (isIpHost(parts.host)) return out;
  const labels = parts.host.split(".");
  if (labels.length > MAX_HOST_LABELS || labels.some((l) => l === "")) return out;
  for (let i = 1; i <= labels.length - 2; i++) out.push(`${parts.scheme}*.${labels.slice(i).join(".")}${parts.port}`);
  return out;
}

/**
 * The Origin of a cross-origin browser request, or null. A request with no Origin (servers, SDKs in
 * Node) or one from the gateway's own origin is not a browser call across origins. "null" (sandboxed
 * frames, file: pages) is returned as is: no pattern ever matches it.
 */
export function crossOrigin(request: Request): string | null {
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  return origin === new URL(request.url).origin ? null : origin;
}
