// The orchestration engine: validates a workflow's step DAG (Kahn's algorithm), then runs it
// layer by layer, the steps of a layer in parallel, with per-step timeout, retry and failure action.
// After an abort (or a step answering the request) the remaining steps are recorded as not run; the work
// that must happen however the request ends is the workflow's completion list (completion.ts).
import { fail, type GatewayFailure } from "../errors";
import { failed, type Placed, type Step, type StepOutcome, type StepRecord } from "./step";

export class WorkflowDefinitionError extends Error {
  override name = "WorkflowDefinitionError";
}

export interface CompiledWorkflow<C> {
  readonly name: string;
  /** Steps grouped in layers: every step's dependencies sit in earlier layers. */
  readonly layers: readonly (readonly Step<C>[])[];
  /** The shortest step timeout: a run's one timer first fires this long after it starts. */
  readonly minTimeoutMs: number;
}

/** Orders placed steps into layers with Kahn's algorithm; unknown dependencies, duplicates and cycles throw. */
export function compileWorkflow<C>(name: string, placed: readonly Placed<C>[]): CompiledWorkflow<C> {
  const byName = new Map<string, Placed<C>>();
  for (const entry of placed) {
    if (byName.has(entry.step.name)) throw new WorkflowDefinitionError(`${name}: step "${entry.step.name}" is defined twice`);
    byName.set(entry.step.name, entry);
  }
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const { step, after } of placed) {
    indegree.set(step.name, after.length);
    for (const dep of after) {
      if (!byName.has(dep)) throw new WorkflowDefinitionError(`${name}: step "${step.name}" depends on unknown step "${dep}"`);
      dependents.set(dep, [...(dependents.get(dep) ?? []), step.name]);
    }
  }
  const layers: Step<C>[][] = [];
  let ready = placed.filter((p) => p.after.length === 0).map((p) => p.step.name);
  let count = 0;
  while (ready.length > 0) {
    layers.push(ready.map((n) => byName.get(n)!.step));
    count += ready.length;
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
  if (count !== placed.length) {
    const stuck = placed.filter((p) => indegree.get(p.step.name)! > 0).map((p) => p.step.name);
    throw new WorkflowDefinitionError(`${name}: dependency cycle among ${stuck.join(", ")}`);
  }
  return { name, layers, minTimeoutMs: Math.min(...placed.map((p) => p.step.timeoutMs)) };
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
  const deadlines = new Deadlines(workflow.minTimeoutMs);
  try {
    return await runLayers(workflow, ctx, deadlines);
  } finally {
    deadlines.close();
  }
}

async function runLayers<C>(workflow: CompiledWorkflow<C>, ctx: C, deadlines: Deadlines): Promise<ExecutionResult> {
  const records: StepRecord[] = [];
  const result: ExecutionResult = { records };
  for (const layer of workflow.layers) {
    if (result.failure || result.answeredBy) {
      for (const step of layer) records.push({ name: step.name, status: "not_run", durationMs: 0, attempts: 0 });
      continue;
    }
    // A single-step layer is awaited directly: the common case pays for no Promise.all.
    const layerRecords = layer.length === 1 ? [await runStep(layer[0]!, ctx, deadlines)] : await Promise.all(layer.map((s) => runStep(s, ctx, deadlines)));
    for (const [index, { record, abort, answered }] of layerRecords.entries()) {
      records.push(record);
      if (answered && !result.failure && !result.answeredBy) result.answeredBy = layer[index]!.name;
      if (abort && !result.failure) {
        result.failure = abort;
        result.abortedBy = layer[index]!.name;
      }
    }
  }
  return result;
}

async function runStep<C>(step: Step<C>, ctx: C, deadlines: Deadlines): Promise<{ record: StepRecord; abort?: GatewayFailure; answered?: true }> {
  const started = Date.now();
  if (step.when && !step.when(ctx)) return { record: { name: step.name, status: "skipped", durationMs: 0, attempts: 0 } };
  let attempts = 0;
  let outcome: StepOutcome;
  do {
    attempts++;
    outcome = await attemptStep(step, ctx, deadlines);
  } while (outcome?.outcome === "failed" && attempts <= step.retries);
  const durationMs = Date.now() - started;
  if (!outcome) return { record: { name: step.name, status: "ok", durationMs, attempts } };
  switch (outcome.outcome) {
    case "answered":
      return { record: { name: step.name, status: "ok", durationMs, attempts }, answered: true };
    case "rejected":
      return { record: { name: step.name, status: "failed", durationMs, attempts, error: outcome.failure.kind }, abort: outcome.failure };
    case "failed":
      return onStepFailure(step, ctx, outcome.failure, { name: step.name, durationMs, attempts, error: outcome.failure.kind });
  }
}

function onStepFailure<C>(step: Step<C>, ctx: C, failure: GatewayFailure, base: Omit<StepRecord, "status">): { record: StepRecord; abort?: GatewayFailure } {
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

async function attemptStep<C>(step: Step<C>, ctx: C, deadlines: Deadlines): Promise<StepOutcome> {
  let pending: Promise<StepOutcome> | StepOutcome;
  try {
    pending = step.run(ctx);
  } catch (error) {
    return stepThrew(step, error);
  }
  // A step that finished synchronously cannot have overrun its timeout (no timer could have fired while
  // it ran), so only a pending step takes a deadline: most steps of a request are synchronous.
  if (!(pending instanceof Promise)) return pending ?? undefined;
  let cancel: (() => void) | undefined;
  const timeout = new Promise<StepOutcome>((resolve) => {
    cancel = deadlines.add(step.timeoutMs, () => resolve(failed(fail("step_timeout", `step ${step.name} timed out after ${step.timeoutMs} ms`))));
  });
  try {
    const outcome: StepOutcome = await Promise.race([pending, timeout]);
    return outcome ?? undefined;
  } catch (error) {
    return stepThrew(step, error);
  } finally {
    cancel?.();
  }
}

/**
 * The step deadlines of one workflow run on one timer (a timer per step cost more than most steps do).
 * It is armed once, the shortest step timeout after the first pending step: no deadline registered later
 * can fall before that. A request that ends sooner (nearly all) sets one timer and clears it; when it
 * fires it settles what is due and re-arms for the next deadline.
 */
class Deadlines {
  readonly #pending = new Set<{ at: number; fire: () => void }>();
  readonly #horizonMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;

  constructor(horizonMs: number) {
    this.#horizonMs = horizonMs;
  }

  /** Calls `fire` once `ms` have passed, unless the returned function is called first. */
  add(ms: number, fire: () => void): () => void {
    const now = Date.now();
    const entry = { at: now + ms, fire };
    this.#pending.add(entry);
    if (this.#timer === undefined) this.#arm(Math.min(entry.at, now + this.#horizonMs), now);
    else if (entry.at < this.#armedAt) this.#arm(entry.at, now);
    return () => this.#pending.delete(entry);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #arm(at: number, now: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#due(), Math.max(0, at - now));
  }

  #due(): void {
    this.#timer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const entry of this.#pending) {
      if (entry.at <= now) {
        this.#pending.delete(entry);
        entry.fire();
      } else if (entry.at < next) next = entry.at;
    }
    if (next !== Infinity) this.#arm(next, now);
  }
}

function stepThrew<C>(step: Step<C>, error: unknown): StepOutcome {
  console.error(JSON.stringify({ level: "error", msg: "step threw", step: step.name, error: String(error) }));
  return failed(fail("internal_error", `internal error in step ${step.name}`));
}
