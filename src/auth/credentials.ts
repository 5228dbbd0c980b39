// Finds the caller's credential in a request (Authorization: Bearer, or x-api-key for the
// Anthropic SDK) and rejects a key sent in the URL, where it would end up in logs.
import { err, fail, ok, type Result } from "../errors";

const QUERY_KEY_PARAMS = ["api_key", "apikey", "key", "access_token", "token"];

export function credentialFrom(request: Request): Result<string> {
  // Only a URL with a query string can carry a key: the common request skips parsing its URL.
  if (request.url.includes("?")) {
    const params = new URL(request.url).searchParams;
    for (const name of QUERY_KEY_PARAMS) {
      if (params.has(name)) return err(fail("api_key_in_query", "Credentials must be sent in the Authorization header, never in the URL.", { param: name }));
    }
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
