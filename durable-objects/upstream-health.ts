// UpstreamHealth: one Durable Object per upstream target holding its circuit-breaker state.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";

export class UpstreamHealth extends DurableObject<Env> {
  async ping(): Promise<string> {
    return "pong";
  }
}
