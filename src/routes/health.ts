// Health endpoints beyond the liveness GET /health: readiness with each dependency for operators
// (GET /internal/v1/health, a service token with the operations scope) and a tenant's own health
// (GET /external/v1/health, an API key, with the same access checks as every tenant route).
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { serviceAuth, tenantAuth } from "../auth/middleware";
import { readiness } from "../metrics/health-checks";
import { tenantHealth } from "../metrics/tenant-health";

export function healthRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/internal/v1/health", serviceAuth("operations"), async (c) => {
    const result = await readiness(c.env, c.executionCtx);
    return c.json(result, result.status === "ready" ? 200 : 503, { "cache-control": "no-store", "x-trace-id": c.get("traceId") });
  });

  routes.get("/external/v1/health", tenantAuth(), async (c) => {
    return c.json(await tenantHealth(c.env, c.get("principal")), 200, { "cache-control": "no-store", "x-trace-id": c.get("traceId") });
  });

  return routes;
}
