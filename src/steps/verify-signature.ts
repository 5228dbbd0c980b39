// Step verify_signature (external channel): authenticates the tenant's API key and checks the request's
// HMAC signature (src/auth/authenticate-external.ts). The nonce is checked for replay by the admit step.
import type { GatewayContext } from "../context";
import { authenticateExternal } from "../auth/authenticate-external";
import type { GatewayStep } from "./types";

export const verifySignatureStep: GatewayStep = {
  name: "verify_signature",
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const verified = await authenticateExternal(ctx);
    if (!verified.ok) return verified.failure;
    ctx.principal = verified.value.principal;
    ctx.nonce = verified.value.nonce;
  },
};
