// The admin API under /admin/v1 (each route states its area; adminAuth checks the caller's role for it,
// before any validation) and the generated OpenAPI document at /openapi.json.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { adminLedgerRoutes } from "../admin-ledger/routes";
import { adminAuth } from "../auth/middleware";
import { errorResponse, fail } from "../errors";
import { deadLetterRoutes } from "../admin-ledger/dead-letters";
import { creditRoutes } from "./credits";
import { keyActionRoutes } from "./key-actions";
import { keyRoutes } from "./keys";
import { limitRoutes } from "./limits";
import { openApiDocument, registerGatewayPaths, registerSecuritySchemes } from "./openapi";
import { registerOperationalPaths } from "./openapi-operations";
import { registerFilePaths } from "../files/openapi";
import { registerBatchPaths } from "../batches/openapi";
import { registerSelfServicePaths } from "../routes/self-service-keys";
import { presetRoutes } from "./presets";
import { routingRoutes } from "./routing";
import { adminRouter, handleAdminError } from "./router";
import { serviceRoutes } from "./services";
import { templateRoutes } from "./templates";
import { cacheRoutes } from "./cache";
import { tenantRoutes } from "./tenants";
import { tokenRoutes } from "./tokens";
import { loginLockoutRoutes } from "./login-lockouts";
import type { AdminEnv } from "./types";

export function adminApi(): OpenAPIHono<AdminEnv> {
  const api = adminRouter();
  registerSecuritySchemes(api.openAPIRegistry);
  for (const routes of [tenantRoutes(), creditRoutes(), keyRoutes(), keyActionRoutes(), serviceRoutes(), presetRoutes(), routingRoutes(), templateRoutes(), limitRoutes(), cacheRoutes(), tokenRoutes(), loginLockoutRoutes(), adminLedgerRoutes(), deadLetterRoutes()]) {
    api.route("/admin/v1", routes);
  }
  // Any other admin path: a caller without an admin token learns nothing (401), an admin gets a 404.
  api.all("/admin/v1/*", adminAuth(), (c) => errorResponse(fail("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), c.get("traceId")));
  registerGatewayPaths(api.openAPIRegistry);
  registerOperationalPaths(api.openAPIRegistry);
  registerFilePaths(api.openAPIRegistry);
  registerBatchPaths(api.openAPIRegistry);
  registerSelfServicePaths(api.openAPIRegistry);
  api.get("/openapi.json", (c) => c.json(openApiDocument(api) as Record<string, unknown>, 200, { "cache-control": "public, max-age=300" }));
  api.onError(handleAdminError);
  return api;
}
