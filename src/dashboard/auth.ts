// Who may see the ops dashboard: a service token or the ADMIN_TOKEN, sent as `Authorization: Bearer`
// or, for the page itself (a browser cannot set headers on navigation), as `?token=`.
import type { Context } from "hono";
import { adminTokenMatches } from "../admin/auth";
import type { AppEnv } from "../app-env";
import { authenticateService } from "../auth/authenticate-service";
import { errorResponse, fail } from "../errors";

/** The presented token: the Authorization header wins; `?token=` only where the caller allows it. */
function presentedToken(c: Context<AppEnv>, allowQuery: boolean): string | undefined {
  const header = c.req.header("authorization");
  if (header !== undefined) return /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim())?.[1];
  if (!allowQuery) return undefined;
  const query = new URL(c.req.url).searchParams.get("token");
  return query !== null && /^[\x21-\x7e]+$/.test(query) ? query : undefined;
}

/** null when the caller may see the dashboard, else the 401 to send (never echoes the token). */
export async function dashboardAuth(c: Context<AppEnv>, opts: { allowQuery: boolean }): Promise<Response | null> {
  const token = presentedToken(c, opts.allowQuery);
  const traceId = c.get("traceId");
  const denied = () =>
    errorResponse(fail("invalid_service_token", "A service token or the admin token is required: send 'Authorization: Bearer <token>'."), traceId, {
      "www-authenticate": 'Bearer realm="dashboard"',
    });
  if (token === undefined) return denied();
  if (c.env.ADMIN_TOKEN && (await adminTokenMatches(c.env.ADMIN_TOKEN, token))) return null;
  const service = await authenticateService(c.env, token);
  if ("service" in service) return null;
  // A token store outage is a 503, not a wrong token.
  if (service.kind === "auth_unavailable") return errorResponse(service, traceId);
  return denied();
}
