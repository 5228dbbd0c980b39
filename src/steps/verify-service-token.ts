// Step verify_service_token (internal channel): authenticates the calling service's token.
import type { GatewayContext } from "../context";
import { authenticateService } from "../auth/authenticate-service";
import { credentialFrom } from "../auth/credentials";
import { servicePrincipal } from "../auth/middleware";
import { failed } from "../pipeline/step";
import type { GatewayStep } from "./types";

export const verifyServiceToken: GatewayStep = {
  name: "verify_service_token",
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const credential = credentialFrom(ctx.request);
    if (!credential.ok) return failed(credential.failure);
    const service = await authenticateService(ctx.env, credential.value);
    if (!service.ok) return failed(service.failure);
    ctx.principal = servicePrincipal(service.value);
  },
};
