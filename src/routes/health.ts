// Health endpoints beyond the liveness GET /health: readiness with each dependency for operators
// (GET /internal/v1/health, service token) and a tenant's own health (GET /external/v1/health, API key).
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { errorResponse } from "../errors";
import { readiness } from "../metrics/health-checks";
import { tenantHealth } from "../metrics/tenant-health";
import { verifyExternalCall } from "../steps/verify-signature";
import { requireService } from "./metrics";

export function healthRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/internal/v1/health", async (c) => {
    const auth = await requireService(c);
    if (auth instanceof Response) return auth;
    const result = await readiness(c.env, c.executionCtx);
    return c.json(result, result.status === "ready" ? 200 : 503, { "cache-control": "no-store", "x-trace-id": c.get("traceId") });
  });

  routes.get("/external/v1/health", async (c) => {
    // The same key, allowlist and signature checks as the pipeline (a GET signs an empty body).
    const verified = await verifyExternalCall({
      request: c.req.raw,
      rawBody: new Uint8Array(0),
      env: c.env,
      exec: c.executionCtx,
      clientIp: c.req.header("cf-connecting-ip") ?? null,
      receivedAt: Date.now(),
    });
    if ("kind" in verified) return errorResponse(verified, c.get("traceId"));
    return c.json(await tenantHealth(c.env, verified.principal), 200, { "cache-control": "no-store", "x-trace-id": c.get("traceId") });
  });

  return routes;
}
