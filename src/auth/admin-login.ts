// Admin login: the presented token is decided by the AdminAccess Durable Object in one call, which
// checks the source's lockout first, then the break-glass ADMIN_TOKEN (compared here, in constant time)
// or a named token (by its SHA-256), and counts a failure. Failures are audited; the token never is.
import type { Context } from "hono";
import type { AdminPrincipal, AppEnv } from "../app-env";
import type { LoginDecision } from "../../durable-objects/admin-access";
import { auditAdminWrite } from "../admin/audit";
import { err, fail, ok, type Result } from "../errors";
import { adminAccessFor } from "../objects";
import { hashApiKey, isWellFormedAdminToken } from "../security/api-keys";
import { adminTokenMatches } from "./admin-token";
import { loginSource } from "./login-throttle";

/** The principal id of the break-glass credential in audit records. */
export const BREAK_GLASS_TOKEN_ID = "env:ADMIN_TOKEN";

export const BREAK_GLASS: AdminPrincipal = { tokenId: BREAK_GLASS_TOKEN_ID, role: "owner", tenantId: null };

export async function adminLogin(c: Context<AppEnv>, token: string): Promise<Result<AdminPrincipal>> {
  const env = c.env;
  const source = loginSource(c.req.header("cf-connecting-ip"));
  const breakGlass = env.ADMIN_TOKEN ? await adminTokenMatches(env.ADMIN_TOKEN, token) : false;
  const tokenHash = !breakGlass && isWellFormedAdminToken(token) ? await hashApiKey(token) : null;
  let decision: LoginDecision;
  try {
    decision = await adminAccessFor(env).authenticate({ source, breakGlass, tokenHash, now: Date.now() });
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "admin access object unavailable", error: String(error) }));
    // Fail closed: a lockout or a revocation might be unseen.
    return err(fail("auth_unavailable", "The admin token store is unavailable; try again shortly.", { retryAfterSeconds: 1 }));
  }
  if (decision.ok) return ok(decision.token ? { tokenId: decision.token.id, role: decision.token.role, tenantId: decision.token.tenantId } : BREAK_GLASS);
  auditFailure(c, source, decision);
  if (decision.reason === "throttled") {
    return err(fail("admin_login_throttled", "Too many failed admin logins; try again later.", { retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000) }));
  }
  return err(fail("admin_unauthorized", "A valid admin token is required: send 'Authorization: Bearer <admin token>'."));
}

/** One record per counted failure and per lockout; refusals during a lockout are not recorded one by one. */
function auditFailure(c: Context<AppEnv>, source: string, decision: Exclude<LoginDecision, { ok: true }>): void {
  if (decision.reason === "throttled" || decision.quiet) return;
  const route = `${c.req.method} ${new URL(c.req.url).pathname}`;
  const action = decision.sourceLocked ? "admin_login.locked" : decision.globalLocked ? "admin_login.global_lock" : "admin_login.failed";
  auditAdminWrite(c, { action, resource: "admin_login", resourceId: source, status: 401, details: { source, path: route } });
}
