// The orchestration engine: validates a workflow's step DAG (Kahn's algorithm), then runs it
// layer by layer, the steps of a layer in parallel, with per-step timeout, retry and failure action.
import { fail, type GatewayFailure } from "../errors";
import type { Answered, Rejection, Step, StepOutcome, StepRecord } from "./step";

export class WorkflowDefinitionError extends Error {
  override name = "WorkflowDefinitionError";
}

export interface CompiledWorkflow<C> {
  readonly name: string;
  /** Steps grouped in layers: every step's dependencies sit in earlier layers. */
  readonly layers: readonly (readonly Step<C>[])[];
}

/** Orders steps into layers with Kahn's algorithm; unknown dependencies, duplicates and cycles throw. */
export function compileWorkflow<C>(name: string, steps: readonly Step<C>[]): CompiledWorkflow<C> {
  const byName = new Map<string, Step<C>>();
  for (const step of steps) {
    if (byName.has(step.name)) throw new WorkflowDefinitionError(`${name}: step "${step.name}" is defined twice`);
    byName.set(step.name, step);
  }
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const step of steps) {
    indegree.set(step.name, step.after.length);
    for (const dep of step.after) {
      if (!byName.has(dep)) throw new WorkflowDefinitionError(`${name}: step "${step.name}" depends on unknown step "${dep}"`);
      dependents.set(dep, [...(dependents.get(dep) ?? []), step.name]);
    }
  }
  const layers: Step<C>[][] = [];
  let ready = steps.filter((s) => s.after.length === 0).map((s) => s.name);
  let placed = 0;
  while (ready.length > 0) {
    layers.push(ready.map((n) => byName.get(n)!));
    placed += ready.length;
    const next: string[] = [];
    for (const done of ready) {
      for (const dependent of dependents.get(done) ?? []) {
        const left = indegree.get(dependent)! - 1;
        indegree.set(dependent, left);
        if (left === 0) next.push(dependent);
      }
    }
    ready = next;
  }
  if (placed !== steps.length) {
    const stuck = steps.filter((s) => indegree.get(s.name)! > 0).map((s) => s.name);
    throw new WorkflowDefinitionError(`${name}: dependency cycle among ${stuck.join(", ")}`);
  }
  return { name, layers };
}

export interface ExecutionResult {
  /** The failure that aborted the request, if any. */
  failure?: GatewayFailure;
  abortedBy?: string;
  /** The step that answered the request itself, if any (the workflow then stopped without a failure). */
  answeredBy?: string;
  records: StepRecord[];
}

/** Runs a compiled workflow against one request context. Never throws for a step's bug: it becomes internal_error. */
export async function runWorkflow<C>(workflow: CompiledWorkflow<C>, ctx: C): Promise<ExecutionResult> {
  const records: StepRecord[] = [];
  const result: ExecutionResult = { records };
  for (const layer of workflow.layers) {
    const runnable = result.failure || result.answeredBy ? layer.filter((s) => s.always) : layer;
    for (const step of layer) if (!runnable.includes(step)) records.push({ name: step.name, status: "not_run", durationMs: 0, attempts: 0 });
    if (runnable.length === 0) continue;
    // A single-step layer is awaited directly: the common case pays for no Promise.all.
    const layerRecords =
      runnable.length === 1 ? [await runStep(runnable[0]!, ctx)] : await Promise.all(runnable.map((s) => runStep(s, ctx)));
    for (const [index, { record, abort, answered }] of layerRecords.entries()) {
      records.push(record);
      if (answered && !result.failure && !result.answeredBy) result.answeredBy = runnable[index]!.name;
      if (abort && !result.failure) {
        result.failure = abort;
        result.abortedBy = runnable[index]!.name;
      }
    }
  }
  return result;
}

async function runStep<C>(step: Step<C>, ctx: C): Promise<{ record: StepRecord; abort?: GatewayFailure; answered?: true }> {
  const started = Date.now();
  if (step.when && !step.when(ctx)) return { record: { name: step.name, status: "skipped", durationMs: 0, attempts: 0 } };
  let attempts = 0;
  let outcome: GatewayFailure | Rejection | Answered | undefined;
  do {
    attempts++;
    outcome = await attemptStep(step, ctx);
  } while (outcome && "kind" in outcome && attempts <= step.retries);
  const durationMs = Date.now() - started;
  if (!outcome) return { record: { name: step.name, status: "ok", durationMs, attempts } };
  if ("answered" in outcome) return { record: { name: step.name, status: "ok", durationMs, attempts }, answered: true };
  if ("reject" in outcome) return { record: { name: step.name, status: "failed", durationMs, attempts, error: outcome.reject.kind }, abort: outcome.reject };
  const failure = outcome;
  const base = { name: step.name, durationMs, attempts, error: failure.kind };
  switch (step.onFailure) {
    case "abort":
      return { record: { ...base, status: "failed" }, abort: failure };
    case "skip":
      return { record: { ...base, status: "skipped" } };
    case "degrade":
      step.degrade?.(ctx, failure);
      return { record: { ...base, status: "degraded" } };
  }
}

async function attemptStep<C>(step: Step<C>, ctx: C): Promise<GatewayFailure | Rejection | Answered | undefined> {
  let pending: Promise<StepOutcome> | StepOutcome;
  try {
    pending = step.run(ctx);
  } catch (error) {
    return stepThrew(step, error);
  }
  // A step that finished synchronously cannot have overrun its timeout (no timer could have fired while
  // it ran), so only a pending step pays for a timer: most steps of a request are synchronous.
  if (!(pending instanceof Promise)) return pending ?? undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<GatewayFailure>((resolve) => {
    timer = setTimeout(() => resolve(fail("step_timeout", `step ${step.name} timed out after ${step.timeoutMs} ms`)), step.timeoutMs);
  });
  try {
    const outcome: StepOutcome = await Promise.race([pending, timeout]);
    return outcome ?? undefined;
  } catch (error) {
    return stepThrew(step, error);
  } finally {
    clearTimeout(timer);
  }
}

function stepThrew<C>(step: Step<C>, error: unknown): GatewayFailure {
  console.error(JSON.stringify({ level: "error", msg: "step threw", step: step.name, error: String(error) }));
  return fail("internal_error", `internal error in step ${step.name}`);
}
