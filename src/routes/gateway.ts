// The gateway API of one channel (/external/v1 or /internal/v1): OpenAI-compatible chat
// completions, embeddings and models, the Anthropic-compatible messages endpoint, and on the
// external channel the tenant's own audit, usage and (with keys:manage) its keys. The pipeline
// routes authenticate in their workflow's first step; every other route goes through the
// channel's auth middleware.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import type { Channel } from "../context";
import { serviceAuth, tenantAuth } from "../auth/middleware";
import { runGatewayRequest } from "../pipeline/run-request";
import { listModels } from "./models";
import { countTokensHandler } from "./count-tokens";
import { tenantLedgerRoutes } from "./audit";
import { selfServiceKeyRoutes } from "./self-service-keys";
import { setResponseHeaders } from "../api/response-ids";
import { browserPreflight } from "../cors/preflight";
import { filesRoutes } from "../files/routes";
import { batchesRoutes } from "../batches/routes";

/** Errors on the Anthropic routes are written in Anthropic's shape, and every answer carries `request-id` (the Anthropic clients' `requestID`). */
function anthropicWire(): MiddlewareHandler<AppEnv> {
  return async function anthropicWire(c, next) {
    c.set("errorWire", { format: "anthropic", requestId: c.get("requestId") });
    await next();
    setResponseHeaders(c, { "request-id": c.get("requestId") });
  };
}

export function gatewayRoutes(channel: Channel): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const auth = channel === "external" ? tenantAuth() : serviceAuth("inference");
  // Browsers call the external channel only (keys with allowed_origins); services are never browsers.
  if (channel === "external") routes.use("*", browserPreflight());
  const ids = (c: Context<AppEnv>) => ({ traceId: c.get("traceId"), requestId: c.get("requestId") });
  routes.post("/chat/completions", (c) => runGatewayRequest(c.req.raw, c.env, c.executionCtx, { channel, capability: "chat", ingress: "openai", ...ids(c) }));
  routes.post("/embeddings", (c) => runGatewayRequest(c.req.raw, c.env, c.executionCtx, { channel, capability: "embeddings", ingress: "openai", ...ids(c) }));
  // Anthropic's routes speak Anthropic: its error body and statuses, and its `request-id` header.
  // "/messages/*" also matches "/messages" itself.
  routes.use("/messages/*", anthropicWire());
  // Authenticated like any read: in the handler on the external channel (a signature covers the body), by the middleware here on the internal.
  if (channel === "internal") routes.post("/messages/count_tokens", auth, countTokensHandler(channel));
  else routes.post("/messages/count_tokens", countTokensHandler(channel));
  routes.post("/messages", (c) => runGatewayRequest(c.req.raw, c.env, c.executionCtx, { channel, capability: "chat", ingress: "anthropic", ...ids(c) }));
  routes.get("/models", auth, (c) => listModels(c, channel));
  if (channel === "external") {
    routes.route("/", tenantLedgerRoutes());
    routes.route("/", selfServiceKeyRoutes());
  }
  routes.route("/", filesRoutes(channel));
  routes.route("/", batchesRoutes(channel));
  return routes;
}
