// Authentication as Hono middleware for every route that is not the pipeline: each takes what the route
// requires and sets the principal on the context, so a route never authenticates by itself.
// - tenantAuth(): a tenant's API key (allowlists, signature), then the TenantGuard's checkAccess() for what
//   only the Durable Object knows at once (a freeze, a ban) and to burn a signed request's nonce.
// - serviceAuth(scope): a service token holding the scope ("inference", or "operations" for metrics,
//   readiness and the dashboard); optionally an admin token whose role may read operations data.
// - adminAuth(area): an admin token whose role covers the route group's area (roles.ts).
import type { Context, HonoRequest, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import type { Principal } from "../context";
import type { ServiceRecord } from "../config/schemas";
import { err, errorResponse, fail, ok, type GatewayFailure, type Result } from "../errors";
import { guardFor } from "../objects";
import { newTraceId } from "../pipeline/trace";
import { adminTokenMatches, bearerToken } from "./admin-token";
import { adminLogin, BREAK_GLASS_TOKEN_ID } from "./admin-login";
import { auditAdminWrite } from "../admin/audit";
import { authenticateExternal, type AuthenticatedCaller } from "./authenticate-external";
import { authenticateService } from "./authenticate-service";
import { credentialFrom } from "./credentials";
import { crossOrigin } from "../cors/origin-patterns";
import { corsAnswerHeaders } from "../cors/cors-headers";
import { setResponseHeaders } from "../api/response-ids";
import { isWellFormedServiceToken } from "../security/api-keys";
import { ROLE_ACCESS, roleAllows, type AdminArea } from "./roles";

export type ServiceScope = "inference" | "operations";

/** A service token as the pipeline and the routes see it: its own TenantGuard, scopes and limits. */
export function servicePrincipal(service: ServiceRecord): Principal {
  return {
    kind: "service",
    tenantId: service.id,
    keyId: service.id,
    scopes: service.scopes,
    rateLimits: service.rate_limits,
    // One token per service: its cap is the object's (tenant-level) cap.
    concurrency: { tenant: service.max_concurrent_requests },
    priorityClass: service.priority_class,
  };
}

function serviceHasScope(service: ServiceRecord, scope: ServiceScope): boolean {
  return scope === "inference" || service.operations === true;
}

/**
 * The tenant's key, allowlists and signature (over `rawBody`: a GET signs an empty body), then freezes,
 * bans and the nonce in its TenantGuard.
 */
export async function authenticateTenantRead(request: Request, env: AppEnv["Bindings"], exec: ExecutionContext, rawBody: Uint8Array = new Uint8Array(0)): Promise<Result<Principal>> {
  const verified = await authenticateExternal({ request, rawBody, env, exec, clientIp: request.headers.get("cf-connecting-ip"), receivedAt: Date.now() });
  if (!verified.ok) return verified;
  return checkTenantAccess(env, verified.value);
}

/** Freezes, bans and the signed request's nonce, in the tenant's TenantGuard (fails closed). */
export async function checkTenantAccess(env: AppEnv["Bindings"], caller: AuthenticatedCaller): Promise<Result<Principal>> {
  const { principal, nonce } = caller;
  try {
    const access = await guardFor(env, principal.tenantId).checkAccess({
      keyId: principal.keyId,
      requestId: newTraceId(),
      nonce: nonce ? { value: nonce.nonce, timestamp: nonce.timestamp } : undefined,
    });
    if (!access.ok) return err(access.failure);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "access check unavailable", error: String(error) }));
    // Fail closed: a freeze or a ban might be unseen, and a nonce unchecked.
    return err(fail("auth_unavailable", "The key store is unavailable; try again shortly.", { retryAfterSeconds: 1 }));
  }
  return ok(principal);
}

/** A body a tenant route signs and reads (self-service key settings) is small; anything larger is refused unread. */
const MAX_TENANT_ROUTE_BODY = 64 * 1024;

export function tenantAuth(): MiddlewareHandler<AppEnv> {
  return async function tenantAuth(c, next) {
    const body = await signedBody(c.req.raw, c.req);
    if (!body.ok) return errorResponse(body.failure, c.get("traceId"), undefined, c.get("errorWire"));
    const auth = await authenticateTenantRead(c.req.raw, c.env, c.executionCtx, body.value);
    if (!auth.ok) return errorResponse(auth.failure, c.get("traceId"), undefined, c.get("errorWire"));
    c.set("principal", auth.value);
    await next();
    // Authenticated with a browser origin: the key allows it (authenticate-key.ts), so the page may read the answer.
    const origin = crossOrigin(c.req.raw);
    if (origin !== null) setResponseHeaders(c, corsAnswerHeaders(origin));
  };
}

/**
 * The bytes the signature covers: none for GET and HEAD, else the body, read with a cap and handed to Hono's
 * body cache, so the route's own JSON parsing sees exactly the bytes that were verified.
 */
async function signedBody(request: Request, req: HonoRequest): Promise<Result<Uint8Array>> {
  if (request.method === "GET" || request.method === "HEAD" || request.body === null) return ok(new Uint8Array(0));
  const tooLarge = err<Uint8Array>(fail("request_too_large", `The body is over ${MAX_TENANT_ROUTE_BODY} bytes.`));
  if (Number(request.headers.get("content-length") ?? "0") > MAX_TENANT_ROUTE_BODY) return tooLarge;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_TENANT_ROUTE_BODY) {
      await reader.cancel();
      return tooLarge;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  // Hono keeps the promise of each body form it has read (its typing says the method).
  (req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(bytes.buffer);
  return ok(bytes);
}

export interface ServiceAuthOptions {
  /** Also admit an admin token whose role may read operations data (the dashboard). */
  admins?: boolean;
  /** Also take the token from `?token=` (a browser cannot set a header on navigation; the page only). */
  queryToken?: boolean;
}

export function serviceAuth(scope: ServiceScope, opts: ServiceAuthOptions = {}): MiddlewareHandler<AppEnv> {
  return async function serviceAuth(c, next) {
    const traceId = c.get("traceId");
    const presented = presentedServiceToken(c.req.raw, opts.queryToken === true);
    const wire = c.get("errorWire");
    if (!presented.ok) return errorResponse(opts.admins ? asDashboardDenial(presented.failure) : presented.failure, traceId, denialHeaders(opts), wire);
    if (opts.admins && (await isAdminAttempt(c.env, presented.value))) {
      const login = await adminLogin(c, presented.value);
      if (!login.ok) return errorResponse(login.failure.kind === "admin_unauthorized" ? asDashboardDenial(login.failure) : login.failure, traceId, denialHeaders(opts), wire);
      const admin = login.value;
      // Operations data spans every tenant: a token scoped to one tenant never reads it.
      if (!ROLE_ACCESS[admin.role].operations || admin.tenantId !== null) return errorResponse(insufficientRole(), traceId, undefined, wire);
      c.set("admin", admin);
      try {
        return await next();
      } finally {
        if (admin.tokenId === BREAK_GLASS_TOKEN_ID) auditBreakGlass(c);
      }
    }
    const service = await authenticateService(c.env, presented.value);
    if (!service.ok) {
      // A token store outage is a 503, not a wrong token.
      const failure = opts.admins && service.failure.kind !== "auth_unavailable" ? asDashboardDenial(service.failure) : service.failure;
      return errorResponse(failure, traceId, failure.kind === "auth_unavailable" ? undefined : denialHeaders(opts), wire);
    }
    if (!serviceHasScope(service.value, scope)) return errorResponse(insufficientRole(`This service token lacks the ${scope} scope.`), traceId, undefined, wire);
    c.set("principal", servicePrincipal(service.value));
    await next();
  };
}

/**
 * Where admins are admitted, anything that is not a well-formed service token is an admin login (and
 * counts toward the login throttle when wrong), so ADMIN_TOKEN cannot be guessed here unthrottled.
 */
async function isAdminAttempt(env: AppEnv["Bindings"], token: string): Promise<boolean> {
  if (!isWellFormedServiceToken(token)) return true;
  return env.ADMIN_TOKEN ? adminTokenMatches(env.ADMIN_TOKEN, token) : false;
}

function presentedServiceToken(request: Request, queryToken: boolean): Result<string> {
  if (!queryToken || request.headers.has("authorization")) return credentialFrom(request);
  const query = new URL(request.url).searchParams.get("token");
  return query !== null && /^[\x21-\x7e]+$/.test(query) ? ok(query) : err(fail("missing_api_key", "No credential."));
}

/** The dashboard answers every wrong or missing credential alike, and never echoes it. */
function asDashboardDenial(_failure: GatewayFailure): GatewayFailure {
  return fail("invalid_service_token", "A service token with the operations scope or an admin token is required: send 'Authorization: Bearer <token>'.");
}

function denialHeaders(opts: ServiceAuthOptions): Record<string, string> | undefined {
  return opts.admins ? { "www-authenticate": 'Bearer realm="dashboard"' } : undefined;
}

function insufficientRole(message = "This credential's role does not allow this route."): GatewayFailure {
  return fail("insufficient_role", message);
}

export interface AdminRouteScope {
  /** The path parameter naming the tenant the route is about: a tenant-scoped token may call it for its own tenant only. */
  tenantParam?: string;
  /** The route lists tenants; the handler shows a tenant-scoped token its own tenant only. */
  tenantList?: boolean;
}

/**
 * Authenticates an admin token (throttled, admin-login.ts) and, given an area, checks that its role covers
 * it (without one: any admin). A tenant-scoped token reaches only routes about its tenant: another
 * tenant's id is the same 404 as an unknown one, and a route about no tenant is refused.
 */
export function adminAuth(area?: AdminArea, scope: AdminRouteScope = {}): MiddlewareHandler<AppEnv> {
  return async function adminAuth(c, next) {
    c.set("adminStartedAt", Date.now());
    const traceId = c.get("traceId");
    const token = bearerToken(c.req.header("authorization"));
    const login = token === undefined ? err(fail("admin_unauthorized", "A valid admin token is required: send 'Authorization: Bearer <admin token>'.")) : await adminLogin(c, token);
    if (!login.ok) return errorResponse(login.failure, traceId, login.failure.kind === "admin_unauthorized" ? { "www-authenticate": 'Bearer realm="admin"' } : undefined);
    const admin = login.value;
    c.set("admin", admin);
    try {
      if (area !== undefined && !roleAllows(admin.role, area, c.req.method)) return errorResponse(insufficientRole(), traceId);
      if (admin.tenantId !== null && area !== undefined) {
        const refused = tenantScopeRefusal(admin.tenantId, scope, scope.tenantParam ? c.req.param(scope.tenantParam) : undefined);
        if (refused) return errorResponse(refused, traceId);
      }
      await next();
    } finally {
      if (admin.tokenId === BREAK_GLASS_TOKEN_ID) auditBreakGlass(c);
    }
  };
}

function tenantScopeRefusal(scopeTenant: string, scope: AdminRouteScope, addressed: string | undefined): GatewayFailure | undefined {
  if (scope.tenantList) return undefined;
  if (!scope.tenantParam) return insufficientRole(`This token is scoped to tenant ${scopeTenant}; this route is not about one tenant.`);
  // Exactly the answer for an unknown tenant: a scoped token learns nothing about other tenants.
  if (addressed !== scopeTenant) return fail("not_found", `Tenant ${addressed ?? ""} does not exist.`);
  return undefined;
}

/** Every use of the break-glass credential leaves a record, reads included, with the answer's status. */
function auditBreakGlass(c: Context<AppEnv>): void {
  const path = `${c.req.method} ${new URL(c.req.url).pathname}`;
  auditAdminWrite(c, { action: "break_glass.use", resource: "admin_token", resourceId: BREAK_GLASS_TOKEN_ID, status: c.res?.status ?? 0, details: { path } });
}
