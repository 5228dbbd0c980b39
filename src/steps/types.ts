// The step contract of the gateway's pipeline: the names of its steps and completion tasks, and the
// types every step file implements. Below the workflows, so no step imports the file that lists it.
import type { CompletionOutcome, GatewayContext } from "../context";
import type { CompletionTask, Placed, Step } from "../pipeline/step";

export type StepName =
  | "validate_request"
  | "verify_signature"
  | "verify_service_token"
  | "route_request"
  | "count_tokens"
  | "admit"
  | "lookup_cache"
  | "render_template"
  | "call_upstream"
  | "transform_response"
  | "sanitize_response";

export type GatewayStep = Step<GatewayContext, StepName>;

export type PlacedStep = Placed<GatewayContext, StepName>;

/** Work after the response: one of a workflow's completion list (src/pipeline/workflows.ts). */
export type CompletionName = "finish_idempotency" | "store_cache" | "report_stream_outcome" | "release_target_slot" | "learn_route" | "record_billing" | "write_audit" | "record_metrics";

export type GatewayCompletion = CompletionTask<GatewayContext, CompletionOutcome> & { readonly name: CompletionName };
