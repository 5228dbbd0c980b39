// GET /internal/v1/metrics: the gateway's metrics, aggregated across isolates, in Prometheus text
// format; for service tokens with the operations scope.
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { serviceAuth } from "../auth/middleware";
import { EXPOSITION_CONTENT_TYPE, renderExposition } from "../metrics/exposition";
import { collectMetrics } from "../metrics/scrape";

export function metricsRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/metrics", serviceAuth("operations"), async (c) => {
    const snapshot = await collectMetrics(c.env, c.executionCtx);
    return c.body(renderExposition(snapshot), 200, {
      "content-type": EXPOSITION_CONTENT_TYPE,
      "cache-control": "no-store",
      "x-trace-id": c.get("traceId"),
    });
  });
  return routes;
}
