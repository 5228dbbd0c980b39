// TenantGuard: one Durable Object per tenant holding its limits, quotas, nonces and holds.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";

export class TenantGuard extends DurableObject<Env> {
  async ping(): Promise<string> {
    return "pong";
  }
}
