// The object model (one FIFO server per Durable Object behind the platform's ceiling) against the case
// measured on workerd (sim/model/calibration.mjs, from `node sim/calibrate.mjs`): one TenantGuard, c
// callers each running admit() then settle() back to back.
import { describe, expect, it } from "vitest";
import { EventQueue } from "./model/events.mjs";
import { ObjectTable, KIND } from "./model/objects.mjs";
import { MEASURED, OBJECT_BURST, OBJECT_CEILING_RPS } from "./model/calibration.mjs";

const ADMIT = 1;
const SETTLE = 2;

/**
 * The measuring rig as the model sees it: workerd ran the callers and the object on one thread, so a
 * call's whole measured cost occupies the one server and there is no network; the local runtime has no
 * per-object ceiling. Returns admit()+settle() pairs per second over `seconds` of simulated time.
 */
function closedLoop(callers: number, seconds: number): number {
  const events = new EventQueue();
  const objects = new ObjectTable({ ceilingRps: Infinity });
  const guard = objects.create(KIND.TenantGuard, 0, "TenantGuard rig");
  let pairs = 0;
  for (let c = 0; c < callers; c++) events.at(0, ADMIT);
  for (let ms = 0; ms < seconds * 1000; ms++) {
    events.now = ms;
    let id: number;
    while ((id = events.pop()) !== -1) {
      const t = events.time[id]!;
      const admit = events.type[id] === ADMIT;
      const serviceMs = admit ? MEASURED.admitMs : MEASURED.settleMs;
      const wait = objects.arrive(guard, t, 1, serviceMs);
      if (!admit) pairs++;
      events.at(t + wait + serviceMs, admit ? SETTLE : ADMIT);
      events.release(id);
    }
  }
  return pairs / seconds;
}

describe("the object model", () => {
  it("reproduces the measured closed loop on one TenantGuard (pairs per second at c = 1 and c = 8) within 25%", () => {
    const c1 = closedLoop(1, 2);
    const c8 = closedLoop(8, 2);
    const off = (model: number, measured: number) => Math.abs(model - measured) / measured;
    expect(off(c1, MEASURED.closedLoop.c1PairsPerSecond)).toBeLessThan(0.25);
    expect(off(c8, MEASURED.closedLoop.c8PairsPerSecond)).toBeLessThan(0.25);
    // One single-threaded server: eight callers are not eight times faster (nor were they measured so).
    expect(c8 / c1).toBeLessThan(1.3);
    expect(MEASURED.closedLoop.c8PairsPerSecond / MEASURED.closedLoop.c1PairsPerSecond).toBeLessThan(1.3);
  });

  it("queues calls in arrival order: each waits for the ones before it", () => {
    const objects = new ObjectTable();
    const id = objects.create(KIND.TenantGuard, 0, "one object");
    expect(objects.arrive(id, 10, 1, 0.5)).toBe(0);
    expect(objects.arrive(id, 10, 1, 0.5)).toBeCloseTo(0.5);
    expect(objects.arrive(id, 10.2, 2, 0.5)).toBeCloseTo(0.8);
    expect(objects.arrive(id, 20, 1, 0.5)).toBe(0);
  });

  it("refuses calls past the platform's ceiling of about 1,000 per second (overloaded), and no fewer", () => {
    const objects = new ObjectTable();
    const id = objects.create(KIND.GlobalLimiter, 0, "GlobalLimiter global");
    let accepted = 0;
    // 2,000 calls a second for 5 seconds, one every half millisecond.
    for (let i = 0; i < 10_000; i++) if (objects.arrive(id, i * 0.5, 1, 0.01) >= 0) accepted++;
    expect(accepted).toBeGreaterThanOrEqual(5 * OBJECT_CEILING_RPS);
    expect(accepted).toBeLessThanOrEqual(5 * OBJECT_CEILING_RPS + OBJECT_BURST + 1);
    // Below the ceiling nothing is refused.
    const calm = objects.create(KIND.GlobalLimiter, 0, "calm");
    for (let i = 0; i < 4_000; i++) expect(objects.arrive(calm, 10_000 + i * 1.25, 1, 0.01)).toBeGreaterThanOrEqual(0);
  });
});
