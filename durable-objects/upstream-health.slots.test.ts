// UpstreamHealth's concurrency slots over real RPC stubs: shares per priority class (lower classes shed
// first), release and expiry, eviction, and the queue: bounded per tenant and in time, fair by tenant weight.
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { waitFor } from "../test/fixtures/wait";
import type { PriorityClass } from "../src/backpressure/priority-classes";
import { SLOT_TTL_MS } from "./upstream-health/target-slots";
import type { SlotGrant, SlotRequest } from "./upstream-health/types";

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
const healthFor = (name: string = crypto.randomUUID()) => env.UPSTREAM_HEALTH.get(env.UPSTREAM_HEALTH.idFromName(name));
type Stub = ReturnType<typeof healthFor>;

let seq = 0;
const slot = (over: Partial<SlotRequest> = {}): SlotRequest => ({ requestId: `r${++seq}`, tenantId: "t1", weight: 1, priority: "interactive_external", limit: 10, now: T0, ...over });
const acquire = (stub: Stub, over: Partial<SlotRequest> = {}) => stub.acquireSlot(slot(over)) as Promise<SlotGrant>;

/** Acquires one at a time until refused; how many of `priority` were granted. */
async function fill(stub: Stub, priority: PriorityClass): Promise<number> {
  let granted = 0;
  while ((await acquire(stub, { priority })).granted) granted += 1;
  return granted;
}

describe("target slots by priority class", () => {
  it("a saturating target sheds batch first, then best effort, then internal interactive, external interactive last", async () => {
    const stub = healthFor();
    // Limit 10: batch may fill 4, best_effort_internal 6, interactive_internal 9, interactive_external 10.
    expect(await fill(stub, "batch")).toBe(4);
    expect(await fill(stub, "best_effort_internal")).toBe(2);
    expect(await fill(stub, "interactive_internal")).toBe(3);
    expect(await fill(stub, "interactive_external")).toBe(1);
    const refused = await acquire(stub, { priority: "batch" });
    expect(refused).toMatchObject({ granted: false, inFlight: 10, allowed: 4, retryAfterMs: 1_000 });
    expect((await stub.slotState({ now: T0 })).byClass).toEqual({ batch: 4, best_effort_internal: 2, interactive_internal: 3, interactive_external: 1 });
  });

  it("release and expiry free the slot; acquire is idempotent per request id; slots survive an eviction", async () => {
    const name = crypto.randomUUID();
    const held = slot({ limit: 1 });
    expect((await healthFor(name).acquireSlot(held)).granted).toBe(true);
    expect((await healthFor(name).acquireSlot(held)).granted).toBe(true);
    await abortAllDurableObjects();
    expect((await acquire(healthFor(name), { limit: 1 })).granted).toBe(false);
    expect(await healthFor(name).releaseSlot(held.requestId)).toEqual({ released: true });
    expect(await healthFor(name).releaseSlot(held.requestId)).toEqual({ released: false });
    const orphan = await acquire(healthFor(name), { limit: 1 });
    expect(orphan.granted).toBe(true);
    // The isolate holding it died: the slot frees at its expiry.
    expect((await acquire(healthFor(name), { limit: 1, now: T0 + SLOT_TTL_MS - 1 })).granted).toBe(false);
    expect((await acquire(healthFor(name), { limit: 1, now: T0 + SLOT_TTL_MS })).granted).toBe(true);
  });
});

describe("the target's queue", () => {
  const queue = { maxLength: 20, maxWaitMs: 20_000 };

  it("gives freed slots by tenant weight: a tenant of weight 3 gets 3 of every 4 while both wait", async () => {
    const stub = healthFor();
    const limit = 4;
    const holders = await Promise.all([0, 1, 2, 3].map(() => stub.acquireSlot(slot({ tenantId: "other", limit })).then(() => `r${seq}`)));
    const heldIds = [`r${seq - 3}`, `r${seq - 2}`, `r${seq - 1}`, `r${seq}`];
    expect(holders).toHaveLength(4);
    const grants: string[] = [];
    const granted: string[] = [];
    const waiting: Promise<SlotGrant>[] = [];
    for (let i = 0; i < 12; i++) {
      for (const [tenantId, weight] of [["heavy", 3], ["light", 1]] as const) {
        const req = slot({ tenantId, weight, limit, queue });
        waiting.push(
          (stub.acquireSlot(req) as Promise<SlotGrant>).then((g) => {
            if (g.granted) (grants.push(tenantId), granted.push(req.requestId));
            return g;
          }),
        );
      }
    }
    await waitFor("24 waiting", async () => (await stub.slotState()).queued === 24);
    // Free the slots one at a time, oldest first: each release goes to the waiting tenant with the fewest slots per weight.
    const order = [...heldIds];
    for (let i = 0; i < 16; i++) {
      await stub.releaseSlot(order.shift()!);
      await waitFor(`grant ${i + 1}`, () => grants.length === i + 1 && granted[i]);
      order.push(granted[i]!);
    }
    const heavy = grants.filter((t) => t === "heavy").length;
    expect([heavy, grants.length - heavy]).toEqual([12, 4]);
    // Once every heavy request ran, the light tenant takes every freed slot.
    for (let i = 16; i < 24; i++) {
      await stub.releaseSlot(order.shift()!);
      await waitFor(`grant ${i + 1}`, () => grants.length === i + 1 && granted[i]);
      order.push(granted[i]!);
    }
    expect(grants.slice(16).every((t) => t === "light")).toBe(true);
    await Promise.all(waiting);
  });

  it("is bounded: a tenant's waiters beyond its max_queue_length are refused at once, and a wait ends with the refusal", async () => {
    const stub = healthFor();
    expect((await acquire(stub, { limit: 1 })).granted).toBe(true);
    const short = { maxLength: 2, maxWaitMs: 20_000 };
    const first = acquire(stub, { limit: 1, queue: short });
    const second = acquire(stub, { limit: 1, queue: short });
    await waitFor("two waiting", async () => (await stub.slotState()).queued === 2);
    expect((await acquire(stub, { limit: 1, queue: short })).granted).toBe(false);
    // Another tenant still has room in the queue.
    const other = acquire(stub, { limit: 1, tenantId: "t2", queue: { maxLength: 1, maxWaitMs: 50 } });
    expect(await other).toMatchObject({ granted: false, inFlight: 1 });
    await stub.releaseSlot(`r${seq - 4}`);
    expect((await first).granted).toBe(true);
    expect((await stub.slotState()).queued).toBe(1);
    await stub.releaseSlot(`r${seq - 3}`);
    expect((await second).granted).toBe(true);
  });
});
