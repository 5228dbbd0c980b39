// Authentication for the external channel's read-only routes (models, audit, usage, tenant health):
// the same key, allowlist and signature checks as the pipeline, then one TenantGuard checkAccess()
// for what only the Durable Object knows at once — a frozen key, a ban, a revocation — and to burn a
// signed request's nonce. No limits, hold or charge.
import { guardFor } from "../objects";
import type { Principal } from "../context";
import { err, fail, ok, type Result } from "../errors";
import { newTraceId } from "../pipeline/trace";
import { verifyExternalCall } from "../steps/verify-signature";
import type { Env } from "../env";

export async function authenticateReadOnly(request: Request, env: Env, exec: ExecutionContext): Promise<Result<Principal>> {
  const verified = await verifyExternalCall({
    request,
    rawBody: new Uint8Array(0),
    env,
    exec,
    clientIp: request.headers.get("cf-connecting-ip"),
    receivedAt: Date.now(),
  });
  if ("kind" in verified) return err(verified);
  const { principal, nonce } = verified;
  try {
    const guard = guardFor(env, principal.tenantId);
    const access = await guard.checkAccess({
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
