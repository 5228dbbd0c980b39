// Step verify_service_token (internal channel): authenticates the calling service's token.
import type { GatewayContext } from "../context";
import { authenticateService } from "../auth/authenticate-service";
import { credentialFrom } from "../auth/credentials";
import type { GatewayStep } from "./types";

export const verifyServiceToken: GatewayStep = {
  name: "verify_service_token",
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const credential = credentialFrom(ctx.request);
    if (!("ok" in credential)) return credential;
    const auth = await authenticateService(ctx.env, credential.value);
    if (!("service" in auth)) return auth;
    ctx.principal = { kind: "service", tenantId: auth.service.id, keyId: auth.service.id, scopes: auth.service.scopes, rateLimits: auth.service.rate_limits };
  },
};
