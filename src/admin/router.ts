// The admin API's OpenAPIHono routers: zod validation failures and Hono's own HTTP errors
// (malformed JSON, wrong content type) leave as the gateway's one error body.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { errorResponse, fail, GatewayError, type GatewayFailure, type Result } from "../errors";
import type { AdminEnv } from "./types";

const TARGET_NAMES: Record<string, string> = { json: "body", param: "path", query: "query", header: "header" };

/** The first zod issue as a 400 `invalid_request`, its path (e.g. `ip_allowlist.2`) as `param`. */
export function validationFailure(error: ZodError, target: string): GatewayFailure {
  const issue = error.issues[0];
  const path = (issue?.path ?? []).map(String);
  // An unknown field is reported at its parent; name the field itself, so a typo is easy to spot.
  if (issue?.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const param = path.length > 0 ? path.join(".") : (TARGET_NAMES[target] ?? target);
  return fail("invalid_request", `Invalid ${param}: ${issue?.message ?? "invalid value"}`, { param });
}

export function adminRouter(): OpenAPIHono<AdminEnv> {
  return new OpenAPIHono<AdminEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(validationFailure(result.error, result.target), c.get("traceId"));
    },
  });
}

/** Failures in route handlers leave through here; anything else is a bug and goes on to app.onError. */
export function handleAdminError(error: Error, c: Context<AdminEnv>): Response {
  const traceId = c.get("traceId") ?? "none";
  if (error instanceof GatewayError) return errorResponse(error.failure, traceId);
  if (error instanceof HTTPException) {
    if (error.status === 415) return errorResponse(fail("unsupported_media_type", "Send the body as application/json."), traceId);
    if (error.status === 400) return errorResponse(fail("invalid_json", "The request body is not valid JSON.", { param: "body" }), traceId);
  }
  throw error;
}

/** Unwraps a Result inside a route handler; a failure leaves through handleAdminError. */
export function orThrow<T>(result: Result<T>): T {
  if (!result.ok) throw new GatewayError(result.failure);
  return result.value;
}

export function notFound(what: string): never {
  throw new GatewayError(fail("not_found", `${what} does not exist.`));
}
