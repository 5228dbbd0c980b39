// What a pipeline step is: a plain typed object. Workflows (workflows.ts) are lists of these.
import type { GatewayFailure } from "../errors";

export type FailureAction = "abort" | "skip" | "degrade";

export type StepStatus = "ok" | "failed" | "skipped" | "degraded" | "not_run";

/**
 * A decision to refuse the request (a rate limit hit, a replayed nonce): it always ends the request,
 * whatever the step's onFailure says, because onFailure is about the step itself failing.
 */
export interface Rejection {
  reject: GatewayFailure;
}

export const reject = (failure: GatewayFailure): Rejection => ({ reject: failure });

/**
 * The step answered the request itself (an Idempotency-Key replay): the workflow stops successfully;
 * later steps do not run, except those marked `always`.
 */
export interface Answered {
  answered: true;
}

export const answered: Answered = { answered: true };

/** A step returns nothing on success, the failure of the step as a value, a rejection, or that it answered. Throwing means a bug. */
export type StepOutcome = void | GatewayFailure | Rejection | Answered;

export interface Step<C, N extends string = string> {
  readonly name: N;
  /** Names of the steps that must finish before this one starts. */
  readonly after: readonly N[];
  /** What a failure of this step does to the request: stop it, ignore it, or continue degraded. */
  readonly onFailure: FailureAction;
  readonly timeoutMs: number;
  /** Extra attempts after a failure (0 = run once). */
  readonly retries: number;
  /** Runs even after an earlier step aborted the request (audit, releasing holds). */
  readonly always?: boolean;
  /** Whether the step applies to this request at all; false records it as skipped. */
  readonly when?: (ctx: C) => boolean;
  run(ctx: C): Promise<StepOutcome> | StepOutcome;
  /** Called when the step failed and onFailure is "degrade": leave ctx in its fallback state. */
  degrade?(ctx: C, failure: GatewayFailure): void;
}

export interface StepRecord {
  name: string;
  status: StepStatus;
  /** Wall time the step took, in ms (I/O time; a Worker's clock does not advance during CPU work). */
  durationMs: number;
  attempts: number;
  error?: string;
}
