// The gateway API of one channel (/external/v1 or /internal/v1): OpenAI-compatible chat
// completions, embeddings and models, the Anthropic-compatible messages endpoint, and on the
// external channel the tenant's own audit and usage. The pipeline routes authenticate in their
// workflow's first step; every other route goes through the channel's auth middleware.
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import type { Channel } from "../context";
import { serviceAuth, tenantAuth } from "../auth/middleware";
import { runGatewayRequest } from "../pipeline/run-request";
import { listModels } from "./models";
import { tenantLedgerRoutes } from "./audit";

export function gatewayRoutes(channel: Channel): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const auth = channel === "external" ? tenantAuth() : serviceAuth("inference");
  routes.post("/chat/completions", (c) =>
    runGatewayRequest(c.req.raw, c.env, c.executionCtx, { channel, capability: "chat", ingress: "openai", traceId: c.get("traceId") }),
  );
  routes.post("/embeddings", (c) =>
    runGatewayRequest(c.req.raw, c.env, c.executionCtx, { channel, capability: "embeddings", ingress: "openai", traceId: c.get("traceId") }),
  );
  routes.post("/messages", (c) =>
    runGatewayRequest(c.req.raw, c.env, c.executionCtx, {
      channel,
      capability: "chat",
      ingress: "anthropic",
      traceId: c.get("traceId"),
    }),
  );
  routes.get("/models", auth, (c) => listModels(c, channel));
  if (channel === "external") routes.route("/", tenantLedgerRoutes());
  return routes;
}
