// TenantGuard concurrency slots over real RPC stubs: a slot is an open hold, taken by admit() and freed by
// settle, release or expiry; caps per tenant (or service) and per key; the queue policy's bounds and order.
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AdmissionRequest, AdmissionResult } from "../src/guard/types";
import { HOLD_TTL_MS } from "./tenant-guard";
import { waitFor } from "../test/fixtures/wait";
import { T0, admission, admittedCount, failureKinds, guardFor, inGuard } from "../test/fixtures/tenant-guard";

const concurrently = <T>(n: number, make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => make(i)));
const settleOf = (holdId: string) => ({ holdId, tokens: 1, costMicros: 0, inputTokens: 1, outputTokens: 0 });
const holdIds = (results: AdmissionResult[]) => results.flatMap((r) => (r.ok ? [r.holdId] : []));

describe("concurrency caps", () => {
  it("a key capped at 2: 2 of 5 concurrent requests admitted, 3 refused with Retry-After and the concurrency figures", async () => {
    const guard = guardFor();
    const concurrency = { key: 2 };
    const results = await concurrently(5, () => guard.admit(admission({ concurrency })));
    expect(admittedCount(results)).toBe(2);
    expect(failureKinds(results)).toEqual({ concurrency_limit_exceeded: 3 });
    const refused = results.find((r) => !r.ok)!;
    expect(!refused.ok && refused.failure.retryAfterSeconds).toBe(1);
    expect(refused.rateLimit).toMatchObject({ limitConcurrency: 2, remainingConcurrency: 0 });
    expect(results.find((r) => r.ok)!.rateLimit.limitConcurrency).toBe(2);
    expect((await guard.snapshot()).openHolds).toBe(2);
  });

  it("settle, release and expiry each free the slot at once", async () => {
    const guard = guardFor();
    const concurrency = { key: 1 };
    const first = await guard.admit(admission({ concurrency }));
    expect((await guard.admit(admission({ concurrency }))).ok).toBe(false);
    await guard.settle(settleOf(holdIds([first])[0]!));
    const second = await guard.admit(admission({ concurrency }));
    expect(second.ok).toBe(true);
    await guard.release(holdIds([second])[0]!);
    const third = await guard.admit(admission({ concurrency }));
    expect(third.ok).toBe(true);
    // The isolate holding the third died: its hold expires and the slot with it.
    expect((await guard.admit(admission({ concurrency, now: T0 + HOLD_TTL_MS - 1 }))).ok).toBe(false);
    expect((await guard.admit(admission({ concurrency, now: T0 + HOLD_TTL_MS }))).ok).toBe(true);
  });

  it("the tenant cap counts every key of the channel; the key cap only its own; channels apart", async () => {
    const guard = guardFor();
    const concurrency = { tenant: 3, key: 2 };
    const a = await concurrently(4, () => guard.admit(admission({ keyId: "key-a", concurrency })));
    expect(failureKinds(a)).toEqual({ concurrency_limit_exceeded: 2 });
    const b = await concurrently(4, () => guard.admit(admission({ keyId: "key-b", concurrency })));
    expect(admittedCount(b)).toBe(1);
    const refused = b.find((r) => !r.ok)!;
    expect(!refused.ok && refused.failure.message).toContain("tenant (limit 3)");
    const internal = await guard.admit(admission({ keyId: "key-a", channel: "internal", concurrency }));
    expect(internal.ok).toBe(true);
  });

  it("refuses nothing else's way: a rate-limited request takes no slot, a concurrency refusal burns no RPM", async () => {
    const guard = guardFor();
    const limits = { key: { requests_per_minute: 2 } };
    const concurrency = { key: 1 };
    const first = await guard.admit(admission({ limits, concurrency }));
    const refused = await concurrently(5, () => guard.admit(admission({ limits, concurrency })));
    expect(failureKinds(refused)).toEqual({ concurrency_limit_exceeded: 5 });
    await guard.settle(settleOf(holdIds([first])[0]!));
    expect((await guard.admit(admission({ limits, concurrency }))).ok).toBe(true);
  });

  it("slots survive an eviction: the open holds are counted again from storage", async () => {
    const name = crypto.randomUUID();
    const concurrency = { key: 2 };
    await concurrently(2, () => guardFor(name).admit(admission({ concurrency })));
    await abortAllDurableObjects();
    expect(failureKinds([await guardFor(name).admit(admission({ concurrency }))])).toEqual({ concurrency_limit_exceeded: 1 });
  });

  it("refuses caps below 1 and queue bounds out of range as bad input", async () => {
    // Called on the instance: a rejecting RPC leaks an unhandled rejection in the vitest pool (workers-sdk#14736).
    await inGuard(guardFor(), async (guard) => {
      await expect(guard.admit(admission({ concurrency: { key: 0 } }))).rejects.toThrow(/concurrency.key/);
      await expect(guard.admit(admission({ concurrency: { key: 1, queue: { maxLength: 1, maxWaitMs: 60_000 } } }))).rejects.toThrow(/maxWaitMs/);
    });
  });
});

describe("the queue policy", () => {
  const queued = (over: Partial<AdmissionRequest> = {}, maxLength = 2, maxWaitMs = 20_000) =>
    admission({ concurrency: { key: 1, queue: { maxLength, maxWaitMs } }, ...over });

  it("waits for the slot, oldest first; one more than the queue's length is refused at once", async () => {
    const guard = guardFor();
    const first = await guard.admit(queued());
    expect(first.ok).toBe(true);
    const order: string[] = [];
    const waitB = guard.admit(queued({ requestId: "wait-b" })).then((r) => (order.push("b"), r));
    await waitFor("one request queued", async () => (await guard.snapshot()).queued === 1);
    const waitC = guard.admit(queued({ requestId: "wait-c" })).then((r) => (order.push("c"), r));
    await waitFor("two requests queued", async () => (await guard.snapshot()).queued === 2);
    // The queue holds 2: the next is refused without waiting.
    expect(failureKinds([await guard.admit(queued())])).toEqual({ concurrency_limit_exceeded: 1 });

    await guard.settle(settleOf(holdIds([first])[0]!));
    const b = await waitB;
    expect(b.ok && b.holdId).toBe("wait-b");
    expect((await guard.snapshot()).queued).toBe(1);
    await guard.release("wait-b");
    expect((await waitC).ok).toBe(true);
    expect(order).toEqual(["b", "c"]);
    expect((await guard.snapshot()).openHolds).toBe(1);
  });

  it("gives up after its wait with the same 429, having taken nothing", async () => {
    const guard = guardFor();
    expect((await guard.admit(queued({}, 2, 50))).ok).toBe(true);
    const late = await guard.admit(queued({}, 2, 50));
    expect(failureKinds([late])).toEqual({ concurrency_limit_exceeded: 1 });
    expect(await guard.snapshot()).toMatchObject({ openHolds: 1, queued: 0 });
  });

  it("a waiter of another key is not held back by a full key; a freed slot is decided again in full", async () => {
    const guard = guardFor();
    const limits = { tenant: { requests_per_minute: 2 } };
    const a = await guard.admit(queued({ keyId: "a", limits }));
    expect(a.ok).toBe(true);
    // a2 waits for key a's slot; key b takes the tenant's last RPM meanwhile, so once a's slot frees,
    // a2 is decided again in full and the tenant's RPM refuses it.
    const a2 = guard.admit(queued({ keyId: "a", limits }));
    await waitFor("one request queued", async () => (await guard.snapshot()).queued === 1);
    expect((await guard.admit(queued({ keyId: "b", limits }))).ok).toBe(true);
    await guard.settle(settleOf(holdIds([a])[0]!));
    expect(failureKinds([await a2])).toEqual({ rate_limit_exceeded: 1 });
  });
});
