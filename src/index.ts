// Worker entry: HTTP (the Hono app), queue consumers, cron; re-exports the Durable Object classes.
import type { Env } from "./env";

export { TenantGuard } from "../durable-objects/tenant-guard";
export { UpstreamHealth } from "../durable-objects/upstream-health";

export default {
  async fetch(_request: Request, _env: Env, _ctx: ExecutionContext): Promise<Response> {
    return new Response("ok");
  },
} satisfies ExportedHandler<Env>;
