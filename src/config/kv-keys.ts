// Every KV key the gateway reads or writes, in one place (documented in docs/storage-schema.md).
export const kvKeys = {
  tenant: (tenantId: string) => `tenant:${tenantId}`,
  tenantIndex: (tenantId: string) => `tenants:${tenantId}`,
  apiKeyByHash: (keyHash: string) => `apikey:${keyHash}`,
  apiKeyIndex: (tenantId: string, keyId: string) => `tenantkey:${tenantId}:${keyId}`,
  serviceByHash: (tokenHash: string) => `service:${tokenHash}`,
  serviceIndex: (serviceId: string) => `services:${serviceId}`,
  presets: () => "config:presets",
  template: (name: string, version: number) => `template:${name}:${version}`,
  templateLatest: (name: string) => `template:${name}:latest`,
} as const;
