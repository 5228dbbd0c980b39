// GET /models: the models the caller may use on this channel, in OpenAI's list format, from the same
// catalog routing uses (src/routing/catalog.ts). The principal was set by the route's auth middleware.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Channel } from "../context";
import { errorResponse } from "../errors";
import { allowedItems, catalogFor } from "../routing/catalog";

export async function listModels(c: Context<AppEnv>, channel: Channel): Promise<Response> {
  const traceId = c.get("traceId");
  const catalog = await catalogFor(c.env, c.get("principal"), channel);
  if (!catalog.ok) return errorResponse(catalog.failure, traceId);
  const seen = new Set<string>();
  const data = [];
  for (const item of allowedItems(catalog.value)) {
    for (const id of [item.model, ...item.aliases]) {
      if (seen.has(id)) continue;
      seen.add(id);
      data.push({ id, object: "model", created: 0, owned_by: item.provider, capability: item.capability });
    }
  }
  return c.json({ object: "list", data }, 200, { "x-trace-id": traceId });
}
