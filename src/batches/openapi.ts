// The Batch API in the OpenAPI document, on both channels: the plain Hono routes of routes.ts, described
// with the zod schemas that validate their input and the shape of OpenAI's batch object they answer with.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { ErrorSchema, json } from "../admin/schemas";
import { BatchListQuerySchema, CreateBatchSchema } from "./routes";
import { BATCH_ENDPOINTS, BATCH_STATUSES } from "./types";

type OpenAPIRegistry = OpenAPIHono["openAPIRegistry"];

const unix = () => z.number().int().nullable();

const BatchObjectSchema = z
  .object({
    id: z.string().openapi({ example: "batch_0abc123de4fGhIjKlMnOpQrStu" }),
    object: z.literal("batch"),
    endpoint: z.enum(BATCH_ENDPOINTS),
    errors: z.object({ object: z.literal("list"), data: z.array(z.object({ code: z.string(), message: z.string(), param: z.string().nullable(), line: z.number().int().nullable() })) }).nullable(),
    input_file_id: z.string(),
    completion_window: z.literal("24h"),
    status: z.enum(BATCH_STATUSES),
    output_file_id: z.string().nullable().openapi({ description: "The results of the lines that succeeded (a file of purpose batch_output), once the batch has ended" }),
    error_file_id: z.string().nullable().openapi({ description: "The lines that failed, with their error, once the batch has ended" }),
    created_at: z.number().int(),
    in_progress_at: unix(),
    expires_at: z.number().int(),
    finalizing_at: unix(),
    completed_at: unix(),
    failed_at: unix(),
    expired_at: unix(),
    cancelling_at: unix(),
    cancelled_at: unix(),
    request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
    metadata: z.record(z.string(), z.string()).nullable(),
  })
  .openapi("Batch");

const BatchListSchema = z
  .object({ object: z.literal("list"), data: z.array(BatchObjectSchema), first_id: z.string().nullable(), last_id: z.string().nullable(), has_more: z.boolean() })
  .openapi("BatchList");

const BatchIdParam = z.object({ batch_id: z.string().openapi({ param: { name: "batch_id", in: "path" } }) });

export function registerBatchPaths(registry: OpenAPIRegistry): void {
  for (const channel of ["external", "internal"] as const) {
    const security = [{ [channel === "external" ? "ApiKey" : "ServiceToken"]: [] }];
    const tags = [channel === "external" ? "Batches (external)" : "Batches (internal)"];
    const op = (name: string) => (channel === "external" ? name : name.replace(/^(\w+?)([A-Z])/, "$1Internal$2"));
    const base = `/${channel}/v1/batches`;
    const unauthorized = json(ErrorSchema, "Missing or invalid credential");
    const missing = json(ErrorSchema, "No such batch for this caller (another owner's batch included)");
    registry.registerPath({
      method: "post",
      path: base,
      operationId: op("createBatch"),
      tags,
      security,
      summary: "Create a batch from an uploaded input file (every line checked first; lines then run in the batch priority class)",
      request: { body: { content: { "application/json": { schema: CreateBatchSchema } }, required: true } },
      responses: {
        200: json(BatchObjectSchema, "The batch, in progress"),
        400: json(ErrorSchema, "A line of the file is not a valid request (the message names the line), a duplicate custom_id, or an invalid field"),
        401: unauthorized,
        404: json(ErrorSchema, "No such input file for this caller"),
      },
    });
    registry.registerPath({ method: "get", path: base, operationId: op("listBatches"), tags, security, summary: "The caller's batches, newest first (`after` is the previous page's last_id)", request: { query: BatchListQuerySchema }, responses: { 200: json(BatchListSchema, "A page of batches"), 400: json(ErrorSchema, "Invalid query"), 401: unauthorized } });
    registry.registerPath({ method: "get", path: `${base}/{batch_id}`, operationId: op("retrieveBatch"), tags, security, summary: "One of the caller's batches", request: { params: BatchIdParam }, responses: { 200: json(BatchObjectSchema, "The batch"), 401: unauthorized, 404: missing } });
    registry.registerPath({
      method: "post",
      path: `${base}/{batch_id}/cancel`,
      operationId: op("cancelBatch"),
      tags,
      security,
      summary: "Cancel a batch: lines not yet started never run nor bill; running ones finish (cancelling, then cancelled)",
      request: { params: BatchIdParam },
      responses: { 200: json(BatchObjectSchema, "The batch, cancelling or already ended"), 401: unauthorized, 404: missing },
    });
  }
}
