// The OpenAPI 3.1 document at GET /openapi.json: the admin routes come from their own createRoute
// definitions; the gateway endpoints (served by plain Hono routes) are registered here from the
// same zod schemas that validate their requests.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { ChatCompletionRequestSchema, EmbeddingsRequestSchema } from "../api/openai-schemas";
import { AnthropicMessagesRequestSchema } from "../providers/anthropic-ingress";
import { markDeprecated } from "../api/deprecations";
import { ErrorSchema, json } from "./schemas";
import { CountTokensRequestSchema } from "../routes/count-tokens";
import type { AdminEnv } from "./types";

type OpenAPIRegistry = OpenAPIHono["openAPIRegistry"];

export function registerSecuritySchemes(registry: OpenAPIRegistry): void {
  registry.registerComponent("securitySchemes", "AdminToken", {
    type: "http",
    scheme: "bearer",
    description: "A named admin token (`gat_…`, see /admin/v1/tokens) or the break-glass ADMIN_TOKEN Worker secret. Each operation's `x-admin-area` and the token's role decide access.",
  });
  registry.registerComponent("securitySchemes", "ApiKey", {
    type: "http",
    scheme: "bearer",
    description: "A tenant API key (`gk_…`). Keys with `signature: required` also sign each request: see docs/api/authentication.md.",
  });
  registry.registerComponent("securitySchemes", "ServiceToken", { type: "http", scheme: "bearer", description: "An internal service token (`gst_…`)." });
}

const SignatureHeaders = z.object({
  "x-gateway-timestamp": z.string().optional().openapi({ description: "Unix seconds; within 300 s of the gateway's clock.", example: "1767225600" }),
  "x-gateway-nonce": z.string().optional().openapi({ description: "16 to 64 of [A-Za-z0-9_-], never reused.", example: "n_7hQ2xV9mK4pL8sR1" }),
  "x-gateway-signature": z.string().optional().openapi({ description: "`v1=` + lower-case hex HMAC-SHA256 of the canonical request.", example: `v1=${"0".repeat(64)}` }),
});

const AnyJson = z.record(z.string(), z.unknown());
const gatewayErrors = {
  400: json(ErrorSchema, "Malformed request or headers"),
  401: json(ErrorSchema, "Missing, invalid, stale or replayed credentials"),
  402: json(ErrorSchema, "insufficient_balance"),
  403: json(ErrorSchema, "ip_not_allowed, key_frozen, key_revoked, tenant_banned, scope_denied"),
  404: json(ErrorSchema, "model_not_found, template_not_found"),
  429: json(ErrorSchema, "Rate limit or quota exceeded (Retry-After, x-ratelimit-* headers)"),
  503: json(ErrorSchema, "A store, the guard or every upstream is unavailable"),
};

/** The Anthropic routes' error body (docs/api/errors.md#anthropic-routes). */
const AnthropicErrorSchema = z
  .object({
    type: z.literal("error"),
    error: z.object({
      type: z.string().openapi({ description: "Anthropic's type for the status: invalid_request_error, authentication_error, billing_error, permission_error, not_found_error, rate_limit_error, timeout_error, api_error, overloaded_error." }),
      message: z.string(),
      details: z.object({ error_code: z.string().openapi({ description: "The gateway's error code." }), param: z.string().optional() }),
    }),
    request_id: z.string().nullable().openapi({ description: "Equals the `request-id` and `x-request-id` headers." }),
  })
  .openapi("AnthropicError");
const anthropicErrors = {
  400: json(AnthropicErrorSchema, "invalid_request_error"),
  401: json(AnthropicErrorSchema, "authentication_error"),
  402: json(AnthropicErrorSchema, "billing_error (insufficient balance)"),
  403: json(AnthropicErrorSchema, "permission_error"),
  404: json(AnthropicErrorSchema, "not_found_error"),
  429: json(AnthropicErrorSchema, "rate_limit_error (Retry-After, x-ratelimit-* headers)"),
  529: json(AnthropicErrorSchema, "overloaded_error: a store, the guard or every upstream is unavailable"),
};

// operationIds: OpenAI's and Anthropic's names on the external channel; "Internal" ones on the internal channel.
const ENDPOINTS = [
  { path: "/chat/completions", operation: "ChatCompletion", schema: ChatCompletionRequestSchema, summary: "Chat completion (OpenAI format; `stream: true` answers with server-sent events)", errors: gatewayErrors },
  { path: "/embeddings", operation: "Embedding", schema: EmbeddingsRequestSchema, summary: "Embeddings (OpenAI format)", errors: gatewayErrors },
  { path: "/messages", operation: "Message", schema: AnthropicMessagesRequestSchema, summary: "Messages (Anthropic format; errors in Anthropic's shape)", errors: anthropicErrors },
] as const;

export function registerGatewayPaths(registry: OpenAPIRegistry): void {
  for (const channel of ["external", "internal"] as const) {
    const security: Record<string, string[]>[] = [{ [channel === "external" ? "ApiKey" : "ServiceToken"]: [] }];
    const tags = [channel === "external" ? "Gateway (external)" : "Gateway (internal)"];
    const internal = channel === "internal" ? "Internal" : "";
    for (const endpoint of ENDPOINTS) {
      registry.registerPath({
        method: "post",
        path: `/${channel}/v1${endpoint.path}`,
        operationId: `create${internal}${endpoint.operation}`,
        tags,
        summary: endpoint.summary,
        security,
        request: {
          ...(channel === "external" ? { headers: SignatureHeaders } : {}),
          body: { content: { "application/json": { schema: endpoint.schema } }, required: true },
        },
        responses: {
          200: { description: "The provider's answer in the requested format", content: { "application/json": { schema: AnyJson }, "text/event-stream": { schema: z.string() } } },
          ...endpoint.errors,
        },
      });
    }
    registry.registerPath({
      method: "post",
      path: `/${channel}/v1/messages/count_tokens`,
      operationId: `count${internal}MessageTokens`,
      tags,
      summary: "Count a Messages request's input tokens (Anthropic format; free)",
      description:
        "Exact from an Anthropic upstream serving the model (it counts the body the gateway would send it); otherwise the gateway tokenizer's estimate. The `x-gateway-token-count` header says which: `exact` or `estimated`.",
      security,
      request: {
        ...(channel === "external" ? { headers: SignatureHeaders } : {}),
        body: { content: { "application/json": { schema: CountTokensRequestSchema } }, required: true },
      },
      responses: {
        200: {
          description: "The input tokens",
          headers: z.object({ "x-gateway-token-count": z.enum(["exact", "estimated"]) }),
          content: { "application/json": { schema: z.object({ input_tokens: z.number().int().nonnegative() }) } },
        },
        ...anthropicErrors,
      },
    });
    registry.registerPath({
      method: "get",
      path: `/${channel}/v1/models`,
      operationId: `list${internal}Models`,
      tags,
      summary: "Models visible on this channel",
      security,
      responses: { 200: json(z.object({ object: z.literal("list"), data: z.array(AnyJson) }), "The models"), 401: gatewayErrors[401] },
    });
  }
}

/** Every tag an operation uses, declared with its description (src/admin/openapi.test.ts checks both ways). */
export const TAGS = [
  { name: "Tenants", description: "Tenants, their prepaid balances and quotas (admin)." },
  { name: "API keys", description: "A tenant's API keys: scopes, limits, signing, status (admin)." },
  { name: "Services", description: "Internal service tokens for the internal channel (admin)." },
  { name: "Presets", description: "Upstream provider presets: models, credentials by secret name, prices (admin)." },
  { name: "Routing", description: "Versioned routing configuration: staging, gradual rollout, promotion, rollback and arm statistics (admin)." },
  { name: "Templates", description: "Versioned prompt templates (admin)." },
  { name: "Limits", description: "Gateway-wide rate limits (admin)." },
  { name: "Response cache", description: "Purging cached answers by tenant, preset or entry key (admin)." },
  { name: "Admin tokens", description: "Named admin tokens: a role each, optionally scoped to one tenant; created, rotated and revoked by owners (admin)." },
  { name: "Audit", description: "Any tenant's audit records and usage, the compliance export and dead-letter replay (admin)." },
  { name: "Gateway (external)", description: "OpenAI- and Anthropic-compatible inference for tenants (API keys, optionally signed)." },
  { name: "Account (external)", description: "A tenant's own health, audit records and usage (API keys)." },
  { name: "Gateway (internal)", description: "OpenAI- and Anthropic-compatible inference for internal services (service tokens)." },
  { name: "Files (external)", description: "OpenAI-compatible Files API for a tenant's batch input and output files (API keys; uploads streamed to R2)." },
  { name: "Files (internal)", description: "OpenAI-compatible Files API for an internal service's batch files (service tokens)." },
  { name: "Batches (external)", description: "OpenAI-compatible Batch API for a tenant (API keys): lines run in the batch priority class, billed once each." },
  { name: "Batches (internal)", description: "OpenAI-compatible Batch API for an internal service (service tokens)." },
  { name: "Operations", description: "Liveness, readiness and metrics for operators." },
];

/** Where the gateway answers: a deployment's own domain, or `npm start` locally (docs/operations/deployment.md). */
const SERVERS = [
  { url: "https://{host}", description: "A deployment, on its custom domain", variables: { host: { default: "gateway.internal", description: "The custom domain wrangler.toml routes to the Worker" } } },
  { url: "http://127.0.0.1:8787", description: "The local stack (`npm start`)" },
];

const documents = new WeakMap<object, unknown>();

/** Built once per isolate: generating walks every schema, which is too slow to repeat per request. */
export function openApiDocument(api: OpenAPIHono<AdminEnv>): unknown {
  let doc = documents.get(api);
  if (!doc) {
    doc = api.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Edge LLM gateway",
        version: "1",
        description: "Admin API (/admin/v1) and the OpenAI/Anthropic-compatible gateway (/external/v1 for tenants, /internal/v1 for services).",
      },
      servers: SERVERS,
      tags: TAGS,
    });
    markDeprecated(doc as Record<string, unknown>);
    documents.set(api, doc);
  }
  return doc;
}
