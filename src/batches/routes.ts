// OpenAI's Batch API on a channel (/external/v1 with tenant keys, signed like every call; /internal/v1 with
// service tokens): POST /batches, GET /batches, GET /batches/{id}, POST /batches/{id}/cancel. A batch
// belongs to its creator's owner (tenant or service): its object is named by owner and id, so another
// owner's id finds nothing (404). Lines run later from the gateway-batch queue (queues/batch-lines.ts).
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import type { Channel } from "../context";
import { serviceAuth, tenantAuth } from "../auth/middleware";
import { credentialFrom } from "../auth/credentials";
import { errorResponse, fail, type GatewayFailure } from "../errors";
import { validationFailure } from "../admin/router";
import { credentialHash, randomId } from "../security/api-keys";
import { fileKey, headFile, ownerOf } from "../files/store";
import { batchFor } from "./client";
import { validateInputFile } from "./validate-input";
import { BATCH_ENDPOINTS, type BatchObject } from "./types";

export const CreateBatchSchema = z.strictObject({
  input_file_id: z.string().min(1).max(64),
  endpoint: z.enum(BATCH_ENDPOINTS),
  completion_window: z.literal("24h"),
  metadata: z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, "at most 16 pairs").nullable().optional(),
});

export const BatchListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(64).optional(),
});

const COMPLETION_WINDOW_MS = 24 * 3600_000;
const BATCH_ID = /^batch_[0-9a-z]{9}[A-Za-z0-9]{16}$/;
// Ids sort newest first (R2 lists keys in ascending order): the time part counts down.
const TIME_CEILING = 36 ** 9 - 1;

export function newBatchId(now = Date.now()): string {
  return `batch_${(TIME_CEILING - now).toString(36).padStart(9, "0")}${randomId("x").slice(2, 18)}`;
}

const indexPrefix = (owner: string) => `batches/${encodeURIComponent(owner)}/`;
const notFound = (id: string): GatewayFailure => fail("not_found", `No batch ${id}.`, { param: "batch_id" });
const noStore = (c: Context<AppEnv>) => ({ "cache-control": "no-store", "x-trace-id": c.get("traceId") });

export function batchesRoutes(channel: Channel): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const auth = channel === "external" ? tenantAuth() : serviceAuth("inference");
  const owner = (c: Context<AppEnv>) => ownerOf(c.get("principal"));
  const failed = (c: Context<AppEnv>, failure: GatewayFailure) => errorResponse(failure, c.get("traceId"));

  routes.post("/batches", auth, async (c) => {
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return failed(c, fail("invalid_json", "The body is not valid JSON."));
    }
    const body = CreateBatchSchema.safeParse(json);
    if (!body.success) return failed(c, validationFailure(body.error, "body"));
    const principal = c.get("principal");
    const who = owner(c);
    const { input_file_id: fileId, endpoint } = body.data;
    const file = await headFile(c.env.FILES_BUCKET, who, fileId);
    if (!file) return failed(c, fail("not_found", `No file ${fileId}.`, { param: "input_file_id" }));
    if (file.purpose !== "batch") return failed(c, fail("invalid_request", 'The input file\'s purpose must be "batch".', { param: "input_file_id" }));
    const inputKey = fileKey(who, fileId);
    const object = await c.env.FILES_BUCKET.get(inputKey);
    if (!object) return failed(c, fail("not_found", `No file ${fileId}.`, { param: "input_file_id" }));
    const lines = await validateInputFile(object.body, endpoint);
    if (!lines.ok) return failed(c, lines.failure);
    const credential = credentialFrom(c.req.raw);
    if (!credential.ok) return failed(c, credential.failure);
    const id = newBatchId();
    const createdAt = Math.floor(Date.now() / 1000);
    // Listed from the owner's index (GET /batches); the object holds the state.
    await c.env.FILES_BUCKET.put(`${indexPrefix(who)}${id}`, "", { customMetadata: { created_at: String(createdAt) } });
    const created = await batchFor(c.env, who, id).create({
      id,
      owner: who,
      creator: { kind: principal.kind, tenantId: principal.tenantId, keyId: principal.keyId, credentialHash: await credentialHash(credential.value) },
      channel,
      endpoint,
      inputFileId: fileId,
      inputKey,
      metadata: body.data.metadata ?? null,
      createdAt,
      windowMs: COMPLETION_WINDOW_MS,
      lines: lines.value,
    });
    return c.json(created, 200, noStore(c));
  });

  routes.get("/batches", auth, async (c) => {
    const query = BatchListQuerySchema.safeParse(c.req.query());
    if (!query.success) return failed(c, validationFailure(query.error, "query"));
    const who = owner(c);
    const prefix = indexPrefix(who);
    const { limit, after } = query.data;
    const listed = await c.env.FILES_BUCKET.list({ prefix, limit: limit + 1, ...(after && BATCH_ID.test(after) && { startAfter: `${prefix}${after}` }) });
    const ids = listed.objects.map((o) => o.key.slice(prefix.length));
    const page = ids.slice(0, limit);
    const found: (BatchObject | null)[] = await Promise.all(page.map(async (id) => (await batchFor(c.env, who, id).get()) as BatchObject | null));
    const data = found.filter((b): b is BatchObject => b !== null);
    return c.json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: ids.length > limit || listed.truncated }, 200, noStore(c));
  });

  routes.get("/batches/:id", auth, async (c) => {
    const id = c.req.param("id");
    const batch = BATCH_ID.test(id) ? await batchFor(c.env, owner(c), id).get() : null;
    return batch ? c.json(batch, 200, noStore(c)) : failed(c, notFound(id));
  });

  routes.post("/batches/:id/cancel", auth, async (c) => {
    const id = c.req.param("id");
    const batch = BATCH_ID.test(id) ? await batchFor(c.env, owner(c), id).cancel() : null;
    return batch ? c.json(batch, 200, noStore(c)) : failed(c, notFound(id));
  });
  return routes;
}
