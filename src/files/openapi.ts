// The Files API in the OpenAPI document, on both channels: the plain Hono routes of routes.ts, described
// with the schemas of the objects they answer with (OpenAI's file object and list).
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { ErrorSchema, json } from "../admin/schemas";
import { FileListQuerySchema } from "./routes";

type OpenAPIRegistry = OpenAPIHono["openAPIRegistry"];

const FileObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal("file"),
    bytes: z.number().int(),
    created_at: z.number().int(),
    filename: z.string(),
    purpose: z.enum(["batch", "batch_output"]),
    status: z.literal("processed"),
    status_details: z.null(),
    expires_at: z.null(),
  })
  .openapi("FileObject");

const FileListSchema = z
  .object({ object: z.literal("list"), data: z.array(FileObjectSchema), first_id: z.string().nullable(), last_id: z.string().nullable(), has_more: z.boolean() })
  .openapi("FileList");

const DeletedFileSchema = z.object({ id: z.string(), object: z.literal("file"), deleted: z.literal(true) }).openapi("DeletedFile");

const UploadSchema = z.object({
  file: z.string().openapi({ format: "binary", description: "JSONL: one request per line, at most MAX_FILE_BYTES (100 MB by default)" }),
  purpose: z.literal("batch"),
});

const FileIdParam = z.object({ file_id: z.string().openapi({ param: { name: "file_id", in: "path" } }) });

export function registerFilePaths(registry: OpenAPIRegistry): void {
  for (const channel of ["external", "internal"] as const) {
    const security = [{ [channel === "external" ? "ApiKey" : "ServiceToken"]: [] }];
    const tags = [channel === "external" ? "Files (external)" : "Files (internal)"];
    const op = (name: string) => (channel === "external" ? name : name.replace(/^(\w+?)([A-Z])/, "$1Internal$2"));
    const base = `/${channel}/v1/files`;
    const errors = { 401: json(ErrorSchema, "Missing or invalid credential"), 404: json(ErrorSchema, "No such file for this caller (another owner's file included)") };
    registry.registerPath({
      method: "post",
      path: base,
      operationId: op("createFile"),
      tags,
      security,
      summary: "Upload a batch input file (multipart/form-data, streamed; a signed request's signature covers the whole body)",
      request: { body: { content: { "multipart/form-data": { schema: UploadSchema } }, required: true } },
      responses: {
        200: json(FileObjectSchema, "The stored file"),
        400: json(ErrorSchema, "Not JSONL (the message names the line), a missing file part or a purpose other than batch"),
        401: errors[401],
        413: json(ErrorSchema, "Larger than MAX_FILE_BYTES"),
        415: json(ErrorSchema, "Not multipart/form-data"),
      },
    });
    registry.registerPath({ method: "get", path: base, operationId: op("listFiles"), tags, security, summary: "The caller's files, in id order (`after` is the previous page's last_id)", request: { query: FileListQuerySchema }, responses: { 200: json(FileListSchema, "A page of files"), 400: json(ErrorSchema, "Invalid query"), 401: errors[401] } });
    registry.registerPath({ method: "get", path: `${base}/{file_id}`, operationId: op("retrieveFile"), tags, security, summary: "One of the caller's files", request: { params: FileIdParam }, responses: { 200: json(FileObjectSchema, "The file"), ...errors } });
    registry.registerPath({
      method: "get",
      path: `${base}/{file_id}/content`,
      operationId: op("downloadFile"),
      tags,
      security,
      summary: "The file's bytes, as uploaded or as a batch wrote them",
      request: { params: FileIdParam },
      responses: { 200: { description: "The file's content", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } }, ...errors },
    });
    registry.registerPath({ method: "delete", path: `${base}/{file_id}`, operationId: op("deleteFile"), tags, security, summary: "Delete one of the caller's files", request: { params: FileIdParam }, responses: { 200: json(DeletedFileSchema, "Deleted"), ...errors } });
  }
}
