// Puts the gateway's upstream credential on an outgoing request, in the header the provider expects.
import type { PresetItem } from "../config/schemas";
import { err, fail, ok, type GatewayFailure, type Result } from "../errors";

export type UpstreamAuth = PresetItem["auth"];

/** Every header that can carry a credential: cleared first so only the gateway's own reaches the upstream. */
const CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key", "proxy-authorization"] as const;

function utf8Base64(s: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(s)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The credential header for `auth`, or undefined for "none". Surrounding whitespace is trimmed
 * (secrets pasted with a trailing newline are common); a secret that would break the header is
 * refused, and the failure message never contains the secret.
 */
function credentialHeader(auth: UpstreamAuth, secret: string | undefined): Result<{ name: string; value: string } | undefined> {
  if (auth === "none") return ok(undefined);
  const value = secret?.trim() ?? "";
  if (value === "") return err(fail("config_unavailable", `upstream credential is missing for auth "${auth}"`));
  if (/[\r\n\0]/.test(value)) return err(fail("config_unavailable", "upstream credential contains line breaks"));
  switch (auth) {
    case "bearer":
      return ok({ name: "authorization", value: `Bearer ${value}` });
    case "api-key":
      return ok({ name: "api-key", value });
    case "x-api-key":
      return ok({ name: "x-api-key", value });
    case "basic":
      if (!value.includes(":")) return err(fail("config_unavailable", 'basic upstream credential must be "user:password"'));
      return ok({ name: "authorization", value: `Basic ${utf8Base64(value)}` });
  }
}

/**
 * Sets the credential on an outgoing request's headers (a plain lower-case record, mutated), after
 * clearing every header that could carry another credential.
 */
export function applyCredential(headers: Record<string, string>, auth: UpstreamAuth, secret: string | undefined): GatewayFailure | undefined {
  for (const name of CREDENTIAL_HEADERS) delete headers[name];
  const header = credentialHeader(auth, secret);
  if (!header.ok) return header.failure;
  if (header.value) headers[header.value.name] = header.value.value;
  return undefined;
}
