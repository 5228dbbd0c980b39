// GET /internal/dashboard (the ops page) and GET /internal/dashboard/data (its JSON), for a service
// token with the operations scope or an admin token whose role reads operations data. The page also
// takes `?token=` because a browser cannot send a header on navigation; the data route takes the
// header only (the page's script sends it).
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { serviceAuth } from "../auth/middleware";
import { dashboardData } from "../dashboard/data";
import { dashboardCsp, dashboardPage } from "../dashboard/page";
import { randomBase62 } from "../security/encoding";

const PRIVATE_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

export function dashboardRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/internal/dashboard", serviceAuth("operations", { admins: true, queryToken: true }), (c) => {
    const nonce = randomBase62(22);
    return c.html(dashboardPage(nonce), 200, { ...PRIVATE_HEADERS, "content-security-policy": dashboardCsp(nonce), "x-trace-id": c.get("traceId") });
  });

  routes.get("/internal/dashboard/data", serviceAuth("operations", { admins: true }), async (c) => {
    return c.json(await dashboardData(c.env, c.executionCtx), 200, { ...PRIVATE_HEADERS, "x-trace-id": c.get("traceId") });
  });

  return routes;
}
