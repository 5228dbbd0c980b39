// Every KV key the gateway reads or writes, in one place (documented in docs/storage-schema.md).
export const kvKeys = {
  tenant: (tenantId: string) => `tenant:${tenantId}`,
  tenantIndex: (tenantId: string) => `tenants:${tenantId}`,
  apiKeyByHash: (keyHash: string) => `apikey:${keyHash}`,
  apiKeyIndex: (tenantId: string, keyId: string) => `tenantkey:${tenantId}:${keyId}`,
  serviceByHash: (tokenHash: string) => `service:${tokenHash}`,
  serviceIndex: (serviceId: string) => `services:${serviceId}`,
  presets: () => "config:presets",
  globalLimits: () => "config:global-limits",
  template: (name: string, version: number) => `template:${name}:${version}`,
  templateLatest: (name: string) => `template:${name}:latest`,
  /** A browser origin pattern one API key allows (src/cors/origin-index.ts); patterns never contain a space. */
  corsOrigin: (pattern: string, keyId: string) => `corsorigin:${pattern} ${keyId}`,
} as const;

/** Prefixes the admin API lists (KV list is lexicographic, so pages come in key order). */
export const kvPrefixes = {
  tenantIndex: "tenants:",
  apiKeyIndex: (tenantId: string) => `tenantkey:${tenantId}:`,
  serviceIndex: "services:",
  corsOrigin: (pattern: string) => `corsorigin:${pattern} `,
} as const;
