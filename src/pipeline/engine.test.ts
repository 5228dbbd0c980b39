import { describe, expect, it } from "vitest";
import { fail } from "../errors";
import { compileWorkflow, runWorkflow, WorkflowDefinitionError } from "./engine";
import { answered, failed, reject, type Placed, type Step } from "./step";
import { COMPLETION, EXTERNAL_STEPS, INTERNAL_STEPS } from "./workflows";

interface TestCtx {
  log: string[];
  active: number;
  maxActive: number;
  degraded?: string;
}

const newCtx = (): TestCtx => ({ log: [], active: 0, maxActive: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function step(name: string, after: string[] = [], extra: Partial<Step<TestCtx>> = {}): Placed<TestCtx> {
  return { after, step: stepNamed(name, extra) };
}

function stepNamed(name: string, extra: Partial<Step<TestCtx>>): Step<TestCtx> {
  return {
    name,
    onFailure: "abort",
    timeoutMs: 1_000,
    retries: 0,
    async run(ctx) {
      ctx.active++;
      ctx.maxActive = Math.max(ctx.maxActive, ctx.active);
      await sleep(5);
      ctx.log.push(name);
      ctx.active--;
    },
    ...extra,
  };
}

describe("compileWorkflow", () => {
  it("orders steps into layers with Kahn's algorithm", () => {
    const wf = compileWorkflow("t", [step("d", ["b", "c"]), step("b", ["a"]), step("c", ["a"]), step("a")]);
    expect(wf.layers.map((l) => l.map((s) => s.name).sort())).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  it("rejects a cycle, naming the steps in it", () => {
    expect(() => compileWorkflow("t", [step("a", ["c"]), step("b", ["a"]), step("c", ["b"]), step("x")])).toThrow(/cycle among a, b, c/);
  });

  it("rejects a self-dependency and an unknown dependency", () => {
    expect(() => compileWorkflow("t", [step("a", ["a"])])).toThrow(WorkflowDefinitionError);
    expect(() => compileWorkflow("t", [step("a", ["missing"])])).toThrow(/unknown step "missing"/);
  });

  it("rejects a step defined twice", () => {
    expect(() => compileWorkflow("t", [step("a"), step("a")])).toThrow(/defined twice/);
  });

  it("accepts both channel workflows, with every seed capability present as a step or a completion task", () => {
    const names = (placed: readonly { step: { name: string } }[]) => placed.map((p) => p.step.name);
    expect(compileWorkflow("external", EXTERNAL_STEPS).layers.length).toBeGreaterThan(3);
    expect(compileWorkflow("internal", INTERNAL_STEPS).layers.length).toBeGreaterThan(3);
    const all = new Set([...names(EXTERNAL_STEPS), ...names(INTERNAL_STEPS), ...COMPLETION.map((t) => t.name)]);
    // The seed's quota check and rate limit are one step, admit: they share the one TenantGuard round trip.
    for (const seed of ["validate_request", "verify_signature", "admit", "route_request", "render_template", "call_upstream", "transform_response", "sanitize_response", "record_billing", "write_audit"]) {
      expect(all.has(seed), seed).toBe(true);
    }
    // admission happens strictly before the upstream call on both channels
    for (const wf of [EXTERNAL_STEPS, INTERNAL_STEPS]) {
      const layers = compileWorkflow("x", wf).layers.map((l) => l.map((s) => s.name));
      const layerOf = (n: string) => layers.findIndex((l) => l.includes(n));
      expect(layerOf("admit")).toBeGreaterThan(layerOf("route_request"));
      expect(layerOf("admit")).toBeLessThan(layerOf("call_upstream"));
    }
  });

  it("the completion list settles the hold before the audit and metrics that carry its cost", () => {
    const order = COMPLETION.map((t) => t.name);
    expect(order[0]).toBe("finish_idempotency");
    expect(order.indexOf("record_billing")).toBeLessThan(order.indexOf("write_audit"));
    expect(order.at(-1)).toBe("record_metrics");
  });
});

describe("runWorkflow", () => {
  it("runs the steps of a layer in parallel and layers in order", async () => {
    const ctx = newCtx();
    const wf = compileWorkflow("t", [step("a"), step("b", ["a"]), step("c", ["a"]), step("d", ["a"]), step("e", ["b", "c", "d"])]);
    const result = await runWorkflow(wf, ctx);
    expect(result.failure).toBeUndefined();
    expect(ctx.maxActive).toBe(3);
    expect(ctx.log[0]).toBe("a");
    expect(ctx.log[4]).toBe("e");
    expect(result.records.map((r) => r.status)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });

  it("aborts on an abort step's failure: later steps do not run", async () => {
    const ctx = newCtx();
    const wf = compileWorkflow("t", [step("a"), step("b", ["a"], { run: () => failed(fail("invalid_request", "bad")) }), step("c", ["b"]), step("d", ["c"])]);
    const result = await runWorkflow(wf, ctx);
    expect(result.failure?.kind).toBe("invalid_request");
    expect(result.abortedBy).toBe("b");
    expect(ctx.log).toEqual(["a"]);
    expect(result.records.find((r) => r.name === "d")?.status).toBe("not_run");
    expect(result.records.find((r) => r.name === "c")?.status).toBe("not_run");
    expect(result.records.find((r) => r.name === "b")).toMatchObject({ status: "failed", error: "invalid_request" });
  });

  it("a skip step's failure is recorded and the request goes on", async () => {
    const ctx = newCtx();
    const wf = compileWorkflow("t", [step("a", [], { onFailure: "skip", run: () => failed(fail("internal_error", "x")) }), step("b", ["a"])]);
    const result = await runWorkflow(wf, ctx);
    expect(result.failure).toBeUndefined();
    expect(result.records[0]).toMatchObject({ name: "a", status: "skipped", error: "internal_error" });
    expect(ctx.log).toEqual(["b"]);
  });

  it("a degrade step's failure calls its degrade hook and the request goes on", async () => {
    const ctx = newCtx();
    const wf = compileWorkflow("t", [
      step("a", [], { onFailure: "degrade", run: () => failed(fail("limiter_unavailable", "down")), degrade: (c, f) => void (c.degraded = f.kind) }),
      step("b", ["a"]),
    ]);
    const result = await runWorkflow(wf, ctx);
    expect(result.failure).toBeUndefined();
    expect(ctx.degraded).toBe("limiter_unavailable");
    expect(result.records[0]?.status).toBe("degraded");
  });

  it("a rejection ends the request even from a degrade step", async () => {
    const wf = compileWorkflow("t", [step("a", [], { onFailure: "degrade", run: () => reject(fail("rate_limit_exceeded", "slow down")) }), step("b", ["a"])]);
    const ctx = newCtx();
    const result = await runWorkflow(wf, ctx);
    expect(result.failure?.kind).toBe("rate_limit_exceeded");
    expect(ctx.log).toEqual([]);
  });

  it("times a step out and reports step_timeout", async () => {
    const wf = compileWorkflow("t", [step("slow", [], { timeoutMs: 20, run: () => new Promise<void>(() => {}) /* never settles: only the deadline ends it */ })]);
    const result = await runWorkflow(wf, newCtx());
    expect(result.failure?.kind).toBe("step_timeout");
    expect(result.records[0]?.durationMs).toBeLessThan(400);
  });

  it("keeps every step's own timeout on the run's one timer: short ones fire, long ones outlive the shortest", async () => {
    // The shortest timeout (20 ms) arms the timer; the 300 ms step runs past it and must not time out.
    const wf = compileWorkflow("t", [
      step("quick", [], { timeoutMs: 20 }),
      step("long", ["quick"], { timeoutMs: 300, run: async () => { await sleep(80); } }),
      step("stuck", ["long"], { timeoutMs: 60, run: async () => { await sleep(2_000); } }),
    ]);
    const result = await runWorkflow(wf, newCtx());
    expect(result.records.map((r) => r.status)).toEqual(["ok", "ok", "failed"]);
    expect(result.failure?.kind).toBe("step_timeout");
    expect(result.abortedBy).toBe("stuck");
    expect(result.records[2]!.durationMs).toBeGreaterThanOrEqual(55);
    expect(result.records[2]!.durationMs).toBeLessThan(1_500);
  });

  it("retries a failing step up to its retry count", async () => {
    let calls = 0;
    const flaky = step("flaky", [], { retries: 2, run: () => (++calls < 3 ? failed(fail("upstream_error", "flaky")) : undefined) });
    const result = await runWorkflow(compileWorkflow("t", [flaky]), newCtx());
    expect(result.failure).toBeUndefined();
    expect(calls).toBe(3);
    expect(result.records[0]).toMatchObject({ status: "ok", attempts: 3 });

    calls = -10;
    const result2 = await runWorkflow(compileWorkflow("t", [flaky]), newCtx());
    expect(result2.failure?.kind).toBe("upstream_error");
    expect(result2.records[0]?.attempts).toBe(3);
  });

  it("a step that answers the request stops the workflow without a failure", async () => {
    const ctx = newCtx();
    const wf = compileWorkflow("t", [step("a", [], { run: () => answered }), step("b", ["a"]), step("c", ["b"])]);
    const result = await runWorkflow(wf, ctx);
    expect(result.failure).toBeUndefined();
    expect(result.answeredBy).toBe("a");
    expect(ctx.log).toEqual([]);
    expect(result.records.map((r) => [r.name, r.status])).toEqual([["a", "ok"], ["b", "not_run"], ["c", "not_run"]]);
  });

  it("does not retry a rejection", async () => {
    let calls = 0;
    const wf = compileWorkflow("t", [step("r", [], { retries: 3, run: () => (calls++, reject(fail("replayed_nonce", "again"))) })]);
    await runWorkflow(wf, newCtx());
    expect(calls).toBe(1);
  });

  it("turns a thrown bug into internal_error without leaking the message", async () => {
    const wf = compileWorkflow("t", [step("boom", [], { run: () => { throw new Error("secret-ish detail"); } })]);
    const result = await runWorkflow(wf, newCtx());
    expect(result.failure?.kind).toBe("internal_error");
    expect(result.failure?.message).not.toContain("secret-ish");
  });

  it("takes a synchronous step's outcome as returned, and a rejected async step as internal_error", async () => {
    const sync = compileWorkflow("t", [step("sync-fail", [], { run: () => failed(fail("invalid_request", "bad")) }), step("after", ["sync-fail"])]);
    const synced = await runWorkflow(sync, newCtx());
    expect(synced.failure?.kind).toBe("invalid_request");
    expect(synced.records.map((r) => [r.name, r.status])).toEqual([["sync-fail", "failed"], ["after", "not_run"]]);
    const rejected = compileWorkflow("t", [step("async-boom", [], { run: async () => { await sleep(1); throw new Error("hidden detail"); } })]);
    const result = await runWorkflow(rejected, newCtx());
    expect(result.failure?.kind).toBe("internal_error");
    expect(result.failure?.message).not.toContain("hidden detail");
  });

  it("records a step whose `when` is false as skipped without running it", async () => {
    const ctx = newCtx();
    const result = await runWorkflow(compileWorkflow("t", [step("a", [], { when: () => false })]), ctx);
    expect(ctx.log).toEqual([]);
    expect(result.records[0]?.status).toBe("skipped");
  });
});
