// Puts the gateway's upstream credential on an outgoing request, in the header the provider expects.
import type { PresetItem } from "../config/schemas";
import { fail, type GatewayFailure } from "../errors";

export type UpstreamAuth = PresetItem["auth"];

/** Every header that can carry a credential: cleared first so only the gateway's own reaches the upstream. */
const CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key", "proxy-authorization"] as const;

function utf8Base64(s: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(s)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Sets the credential header on `headers` (mutated). Surrounding whitespace is trimmed (secrets pasted
 * with a trailing newline are common); a secret that would break the header is refused, and the
 * failure message never contains the secret.
 */
export function applyCredential(headers: Headers, auth: UpstreamAuth, secret: string | undefined): GatewayFailure | undefined {
  for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  if (auth === "none") return undefined;
  const value = secret?.trim() ?? "";
  if (value === "") return fail("config_unavailable", `upstream credential is missing for auth "${auth}"`);
  if (/[\r\n\0]/.test(value)) return fail("config_unavailable", "upstream credential contains line breaks");
  switch (auth) {
    case "bearer":
      headers.set("authorization", `Bearer ${value}`);
      return undefined;
    case "api-key":
      headers.set("api-key", value);
      return undefined;
    case "x-api-key":
      headers.set("x-api-key", value);
      return undefined;
    case "basic":
      if (!value.includes(":")) return fail("config_unavailable", 'basic upstream credential must be "user:password"');
      headers.set("authorization", `Basic ${utf8Base64(value)}`);
      return undefined;
  }
}
