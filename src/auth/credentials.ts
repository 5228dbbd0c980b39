// Finds the caller's credential in a request (Authorization: Bearer, or x-api-key for the
// Anthropic SDK) and rejects a key sent in the URL, where it would end up in logs.
import { err, fail, ok, type Result } from "../errors";

/** Query parameter names that carry a credential, compared without case, dashes or underscores. */
const CREDENTIAL_NAMES = new Set(["key", "auth", "authorization", "bearer", "password"]);
/** ...and any name ending like one: api_key, X-Api-Key, openai_api_key, access_token, accessToken, client_secret. */
const CREDENTIAL_SUFFIXES = ["apikey", "token", "secret"];

/** The first query parameter that looks like a credential (`?API_KEY=`, `?Key=`, `?access-token=`), by name as sent. */
export function credentialQueryParam(params: URLSearchParams): string | undefined {
  for (const name of params.keys()) {
    const folded = name.toLowerCase().replace(/[^a-z0-9]/g, "");
    if (CREDENTIAL_NAMES.has(folded) || CREDENTIAL_SUFFIXES.some((suffix) => folded.endsWith(suffix))) return name;
  }
  return undefined;
}

export function credentialFrom(request: Request): Result<string> {
  // Only a URL with a query string can carry a key: the common request skips parsing its URL.
  if (request.url.includes("?")) {
    const name = credentialQueryParam(new URL(request.url).searchParams);
    if (name !== undefined) return err(fail("api_key_in_query", "Credentials must be sent in the Authorization header, never in the URL.", { param: name }));
  }
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization.trim());
    if (!match) return err(fail("invalid_api_key", "The Authorization header must be 'Bearer <key>'."));
    return ok(match[1]!);
  }
  const apiKey = request.headers.get("x-api-key");
  if (apiKey !== null && apiKey.trim() !== "") return ok(apiKey.trim());
  return err(fail("missing_api_key", "No credential: send 'Authorization: Bearer <key>'."));
}
