// Authenticates an internal service token: format before lookup, then its record in the config cache.
import type { Env } from "../env";
import { configStore } from "../config/store";
import type { ServiceRecord } from "../config/schemas";
import { err, fail, ok, type Result } from "../errors";
import { credentialHash, isWellFormedServiceToken } from "../security/api-keys";

export async function authenticateService(env: Env, presented: string): Promise<Result<ServiceRecord>> {
  if (!isWellFormedServiceToken(presented)) return err(fail("invalid_service_token", "Incorrect service token provided."));
  const record = await configStore.serviceByHash(env, await credentialHash(presented));
  if (!record.ok) return err(fail("auth_unavailable", "The token store is unavailable; try again shortly."));
  const service = record.value;
  if (!service) return err(fail("invalid_service_token", "Incorrect service token provided."));
  if (service.status === "revoked") return err(fail("key_revoked", "This service token has been revoked."));
  return ok(service);
}
