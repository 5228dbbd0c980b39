// What a pipeline step is: a plain typed object. A workflow (workflows.ts) places steps in order and
// lists what runs once the response has ended; the steps themselves know nothing of their place.
import type { GatewayFailure } from "../errors";

export type FailureAction = "abort" | "skip" | "degrade";

export type StepStatus = "ok" | "failed" | "skipped" | "degraded" | "not_run";

/** The step itself failed (a store down, a bad upstream answer): its onFailure says what that does to the request. */
export interface StepFailed {
  outcome: "failed";
  failure: GatewayFailure;
}

export const failed = (failure: GatewayFailure): StepFailed => ({ outcome: "failed", failure });

/**
 * A decision to refuse the request (a rate limit hit, a replayed nonce): it always ends the request,
 * whatever the step's onFailure says, because onFailure is about the step itself failing.
 */
export interface Rejection {
  outcome: "rejected";
  failure: GatewayFailure;
}

export const reject = (failure: GatewayFailure): Rejection => ({ outcome: "rejected", failure });

/** The step answered the request itself (an Idempotency-Key replay): the workflow stops successfully. */
export interface Answered {
  outcome: "answered";
}

export const answered: Answered = { outcome: "answered" };

/**
 * A step returns nothing on success, else one of three outcomes told apart by their `outcome` tag: it
 * failed, it refused the request, or it answered the request. Throwing means a bug.
 */
export type StepOutcome = void | StepFailed | Rejection | Answered;

export interface Step<C, N extends string = string> {
  readonly name: N;
  /** What a failure of this step does to the request: stop it, ignore it, or continue degraded. */
  readonly onFailure: FailureAction;
  readonly timeoutMs: number;
  /** Extra attempts after a failure (0 = run once). */
  readonly retries: number;
  /** Whether the step applies to this request at all; false records it as skipped. */
  readonly when?: (ctx: C) => boolean;
  run(ctx: C): Promise<StepOutcome> | StepOutcome;
  /** Called when the step failed and onFailure is "degrade": leave ctx in its fallback state. */
  degrade?(ctx: C, failure: GatewayFailure): void;
}

/** A step in its workflow: the names of the steps that must finish before it starts. */
export interface Placed<C, N extends string = string> {
  readonly step: Step<C, N>;
  readonly after: readonly N[];
}

/** Work done once the response has ended, whichever way it ended (settlement, audit, metrics ...). */
export interface CompletionTask<C, O> {
  readonly name: string;
  /** Whether the task has anything to do for this request; false skips it. */
  readonly when?: (ctx: C) => boolean;
  run(ctx: C, outcome: O): Promise<void> | void;
}

export interface StepRecord {
  name: string;
  status: StepStatus;
  /** Wall time the step took, in ms (I/O time; a Worker's clock does not advance during CPU work). */
  durationMs: number;
  attempts: number;
  error?: string;
}
