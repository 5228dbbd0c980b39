// The admin API's calls to a TenantGuard Durable Object (one per tenant, or per service on the
// internal channel). An unreachable guard is a 503 value: a ban or freeze is never half-applied.
import { guardFor, type GuardStub } from "../objects";
import type { Env } from "../env";
import { err, fail, ok, type ErrorKind, type Result } from "../errors";

export async function callGuard<T>(env: Env, name: string, kind: ErrorKind, call: (guard: GuardStub) => Promise<T>): Promise<Result<T>> {
  try {
    return ok(await call(guardFor(env, name)));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "tenant guard call failed", guard: name, error: String(error) }));
    return err(fail(kind, "The tenant's guard could not be reached; nothing was changed. Try again shortly."));
  }
}
