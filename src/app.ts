// Builds the Hono app: trace ids, the two channels, admin and health routes, and the only
// notFound / onError handlers (every error leaves as one OpenAI-shaped body, Anthropic's on its routes).
import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { adminApi } from "./admin";
import { errorResponse, fail, GatewayError } from "./errors";
import { responseIds } from "./api/response-ids";
import { deprecationHeaders } from "./api/deprecations";
import { gatewayRoutes } from "./routes/gateway";
import { dashboardRoutes } from "./routes/dashboard";
import { healthRoutes } from "./routes/health";
import { metricsRoutes } from "./routes/metrics";

export function buildApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", responseIds());
  app.use("*", deprecationHeaders());

  app.get("/health", (c) => c.json({ status: "ok" }, 200, { "x-trace-id": c.get("traceId") }));
  app.route("/", healthRoutes());
  app.route("/internal/v1", metricsRoutes());
  app.route("/", dashboardRoutes());
  app.route("/external/v1", gatewayRoutes("external"));
  app.route("/internal/v1", gatewayRoutes("internal"));
  app.route("/", adminApi());

  app.notFound((c) => errorResponse(fail("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), c.get("traceId") ?? "none", undefined, c.get("errorWire")));

  app.onError((error, c) => {
    const traceId = c.get("traceId") ?? "none";
    const wire = c.get("errorWire");
    if (error instanceof GatewayError) return errorResponse(error.failure, traceId, undefined, wire);
    console.error(JSON.stringify({ level: "error", msg: "unhandled error", trace_id: traceId, error: String(error), stack: error instanceof Error ? error.stack : undefined }));
    return errorResponse(fail("internal_error", "The gateway hit an internal error."), traceId, undefined, wire);
  });

  return app;
}
