// The egress host allowlist: the deployment's patterns (EGRESS_ALLOWED_HOSTS, default the supported
// providers' own hosts) and the exact names a preset may add (`egress_hosts`), checked when written.
import { err, fail, ok, type Result } from "../errors";
import { classifyHost, normaliseHost, parseLegacyIpv4 } from "./egress";

/** Where the supported providers answer: OpenAI, Anthropic, and Azure OpenAI resources (classic and AI Services endpoints). */
export const DEFAULT_EGRESS_HOSTS = ["api.openai.com", "api.anthropic.com", "*.openai.azure.com", "*.cognitiveservices.azure.com"] as const;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * One allowlist entry, normalised (lower case, no trailing dot). A DNS name of at least two labels
 * that would itself pass the egress guard as a public host: never an IP address, localhost, an internal
 * name, a name spelling a private address, or a wildcard-DNS service. `*.` in front (one more label)
 * only where `wildcard` allows it, and never right above a public suffix-like single label (`*.com`).
 */
export function parseHostPattern(raw: string, { wildcard }: { wildcard: boolean }): Result<string> {
  const refuse = (why: string) => err<string>(fail("invalid_request", `egress host ${JSON.stringify(raw.slice(0, 80))} ${why}`));
  const pattern = normaliseHost(raw.trim());
  const isWildcard = pattern.startsWith("*.");
  if (isWildcard && !wildcard) return refuse("is a pattern; only exact host names are allowed here");
  const name = isWildcard ? pattern.slice(2) : pattern;
  const labels = name.split(".");
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) return refuse("is not a DNS host name");
  if (parseLegacyIpv4(name) !== "not-ipv4") return refuse("is an IP address; list host names");
  const { cls, why } = classifyHost(name);
  if (cls !== "public") return refuse(`is not a public host (${why ?? cls})`);
  return ok(pattern);
}

/** EGRESS_ALLOWED_HOSTS: comma-separated patterns; unset or empty = DEFAULT_EGRESS_HOSTS. Throws on a bad entry (a deploy mistake). */
export function parseEgressAllowedHosts(value: string | undefined): readonly string[] {
  const entries = (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (entries.length === 0) return DEFAULT_EGRESS_HOSTS;
  return entries.map((entry) => {
    const parsed = parseHostPattern(entry, { wildcard: true });
    if (!parsed.ok) throw new Error(`EGRESS_ALLOWED_HOSTS: ${parsed.failure.message}`);
    return parsed.value;
  });
}
