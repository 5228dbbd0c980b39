// The tenant's, key's and service's concurrency caps as the TenantGuard's admit() takes them: a slot is
// the hold that admit() opens, freed by the settle or release that ends the request (or the hold's expiry).
import type { Principal } from "../context";
import type { ConcurrencyCaps } from "../guard/types";

/** The caps for admit(); undefined when none is configured (the call may then be skipped altogether). */
export function concurrencyCaps(principal: Principal): ConcurrencyCaps | undefined {
  const c = principal.concurrency;
  if (c === undefined || (c.tenant === undefined && c.key === undefined)) return undefined;
  const caps: ConcurrencyCaps = {};
  if (c.tenant !== undefined) caps.tenant = c.tenant;
  if (c.key !== undefined) caps.key = c.key;
  if (c.policy?.mode === "queue") caps.queue = { maxLength: c.policy.max_queue_length, maxWaitMs: c.policy.max_wait_ms };
  return caps;
}
