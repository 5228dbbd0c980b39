// OpenAI's Files API on a channel (/external/v1 with tenant keys, /internal/v1 with service tokens):
// POST /files (streamed, upload.ts), GET /files, GET /files/{id}, GET /files/{id}/content, DELETE /files/{id}.
// Every file belongs to the caller's tenant or service (store.ts); another owner's id is a 404.
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import type { Channel, Principal } from "../context";
import { authenticateExternalStreamed, type StreamedCaller } from "../auth/authenticate-external";
import { checkTenantAccess, serviceAuth, tenantAuth } from "../auth/middleware";
import { errorResponse, fail, type GatewayFailure, type Result } from "../errors";
import { settingsOf } from "../env";
import { validationFailure } from "../admin/router";
import { deleteFile, headFile, listFiles, ownerOf, readFile } from "./store";
import { receiveUpload } from "./upload";

export const FileListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().max(64).optional(),
  purpose: z.enum(["batch", "batch_output"]).optional(),
  order: z.enum(["asc"]).optional(),
});

const notFound = (id: string): GatewayFailure => fail("not_found", `No file ${id}.`, { param: "file_id" });
const noStore = (c: Context<AppEnv>) => ({ "cache-control": "no-store", "x-trace-id": c.get("traceId") });

export function filesRoutes(channel: Channel): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const auth = channel === "external" ? tenantAuth() : serviceAuth("inference");
  const owner = (c: Context<AppEnv>) => ownerOf(c.get("principal"));
  const failed = (c: Context<AppEnv>, failure: GatewayFailure) => errorResponse(failure, c.get("traceId"));

  // On the external channel the upload authenticates itself: a signature covers the body, hashed as it streams.
  const upload = async (c: Context<AppEnv>) => {
    const settings = settingsOf(c.env);
    const caller = channel === "external" ? await streamedTenant(c) : undefined;
    if (caller && !caller.ok) return failed(c, caller.failure);
    const principal: Principal = caller ? caller.value.principal : c.get("principal");
    const received = await receiveUpload(c.req.raw, c.env.FILES_BUCKET, ownerOf(principal), { maxFileBytes: settings.maxFileBytes, maxLineBytes: settings.maxRequestBytes });
    if (!received.ok) return failed(c, received.failure);
    const file = received.value;
    // Nothing is committed until the signature, the caller's standing and the form all check out.
    const verdict = await (async (): Promise<GatewayFailure | undefined> => {
      if (caller) {
        const verified = await caller.value.verify(file.bodySha256Hex);
        if (!verified.ok) return verified.failure;
        const access = await checkTenantAccess(c.env, verified.value);
        if (!access.ok) return access.failure;
      }
      if (file.purpose !== "batch") return fail("invalid_request", '`purpose` must be "batch".', { param: "purpose" });
      return undefined;
    })();
    if (verdict) {
      await file.abort();
      return failed(c, verdict);
    }
    return c.json(await file.commit(), 200, noStore(c));
  };
  if (channel === "external") routes.post("/files", upload);
  else routes.post("/files", auth, upload);

  routes.get("/files", auth, async (c) => {
    const query = FileListQuerySchema.safeParse(c.req.query());
    if (!query.success) return failed(c, validationFailure(query.error, "query"));
    return c.json(await listFiles(c.env.FILES_BUCKET, owner(c), query.data), 200, noStore(c));
  });
  routes.get("/files/:id", auth, async (c) => {
    const file = await headFile(c.env.FILES_BUCKET, owner(c), c.req.param("id"));
    return file ? c.json(file, 200, noStore(c)) : failed(c, notFound(c.req.param("id")));
  });
  routes.get("/files/:id/content", auth, async (c) => {
    const object = await readFile(c.env.FILES_BUCKET, owner(c), c.req.param("id"));
    if (!object) return failed(c, notFound(c.req.param("id")));
    return new Response(object.body, { headers: { "content-type": "application/octet-stream", "content-length": String(object.size), ...noStore(c) } });
  });
  routes.delete("/files/:id", auth, async (c) => {
    const id = c.req.param("id");
    return (await deleteFile(c.env.FILES_BUCKET, owner(c), id)) ? c.json({ id, object: "file", deleted: true }, 200, noStore(c)) : failed(c, notFound(id));
  });
  return routes;
}

function streamedTenant(c: Context<AppEnv>): Promise<Result<StreamedCaller>> {
  return authenticateExternalStreamed({ request: c.req.raw, env: c.env, exec: c.executionCtx, clientIp: c.req.header("cf-connecting-ip") ?? null, receivedAt: Date.now() });
}
