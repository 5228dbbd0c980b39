// GET /models: the models the caller may use on this channel, in OpenAI's list format.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Channel } from "../context";
import { authenticateService } from "../auth/authenticate-service";
import { credentialFrom } from "../auth/credentials";
import type { Scopes } from "../config/schemas";
import { resolvePresets } from "../routing/release";
import { errorResponse } from "../errors";
import { allowedByScopes, visibleTo } from "../steps/route-request";
import { authenticateReadOnly } from "../auth/read-access";

export async function listModels(c: Context<AppEnv>, channel: Channel): Promise<Response> {
  const traceId = c.get("traceId");
  let scopes: Scopes;
  let tenantId: string | undefined;
  if (channel === "external") {
    // The same key, allowlist and signature checks as the pipeline, plus freezes, bans and the nonce.
    const auth = await authenticateReadOnly(c.req.raw, c.env, c.executionCtx);
    if (!auth.ok) return errorResponse(auth.failure, traceId);
    scopes = auth.value.scopes;
    tenantId = auth.value.tenantId;
  } else {
    const credential = credentialFrom(c.req.raw);
    if (!("ok" in credential)) return errorResponse(credential, traceId);
    const auth = await authenticateService(c.env, credential.value);
    if (!("service" in auth)) return errorResponse(auth, traceId);
    scopes = auth.service.scopes;
    tenantId = auth.service.id;
  }
  // The version in force for this caller, as routing sees it (a tenant in a gray release sees the candidate's models).
  const presets = await resolvePresets(c.env, tenantId);
  if (!presets.ok) return errorResponse(presets.failure, traceId);
  const seen = new Set<string>();
  const data = [];
  for (const item of presets.value?.document.items ?? []) {
    if (!visibleTo(item, channel) || !allowedByScopes(item, scopes)) continue;
    for (const id of [item.model, ...item.aliases]) {
      if (seen.has(id)) continue;
      seen.add(id);
      data.push({ id, object: "model", created: 0, owned_by: item.provider, capability: item.capability });
    }
  }
  return c.json({ object: "list", data }, 200, { "x-trace-id": traceId });
}
