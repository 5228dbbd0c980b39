// GET /internal/v1/metrics: the gateway's metrics, aggregated across isolates, in Prometheus text
// format; for service tokens only (the same check as the internal channel).
import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { authenticateService } from "../auth/authenticate-service";
import { credentialFrom } from "../auth/credentials";
import type { ServiceRecord } from "../config/schemas";
import { errorResponse } from "../errors";
import { EXPOSITION_CONTENT_TYPE, renderExposition } from "../metrics/exposition";
import { collectMetrics } from "../metrics/scrape";

/** The calling service, or the error response to send (401 for a missing or tenant credential). */
export async function requireService(c: Context<AppEnv>): Promise<{ service: ServiceRecord } | Response> {
  const credential = credentialFrom(c.req.raw);
  if (!("ok" in credential)) return errorResponse(credential, c.get("traceId"));
  const auth = await authenticateService(c.env, credential.value);
  if (!("service" in auth)) return errorResponse(auth, c.get("traceId"));
  return auth;
}

export function metricsRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/metrics", async (c) => {
    const auth = await requireService(c);
    if (auth instanceof Response) return auth;
    const snapshot = await collectMetrics(c.env, c.executionCtx);
    return c.body(renderExposition(snapshot), 200, {
      "content-type": EXPOSITION_CONTENT_TYPE,
      "cache-control": "no-store",
      "x-trace-id": c.get("traceId"),
    });
  });
  return routes;
}
