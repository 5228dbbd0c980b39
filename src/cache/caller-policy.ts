// The cache setting a key's requests use: field by field, the key's own, else its tenant's (the preset's
// default then fills what neither says, in policy.ts). A key that says only `enabled: true` keeps the
// tenant's TTL and scope; one that says `enabled: false` is off whatever the tenant says.
import type { CallerCache } from "./policy-schema";

export function callerCache(key: CallerCache | undefined, tenant: CallerCache | undefined): CallerCache | undefined {
  if (!key) return tenant;
  if (!tenant) return key;
  return {
    enabled: key.enabled,
    ...((key.ttl_s ?? tenant.ttl_s) !== undefined ? { ttl_s: key.ttl_s ?? tenant.ttl_s } : {}),
    ...((key.scope ?? tenant.scope) !== undefined ? { scope: key.scope ?? tenant.scope } : {}),
  };
}
