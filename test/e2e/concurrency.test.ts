// Concurrency caps through real sockets against the running stack (`npm start`'s wrangler dev on workerd):
// a key's slots are taken by admit() and freed by whatever ends the request (its body's end, a client that
// left, the idle deadline), so slots never leak; the queue policy waits in a bounded queue.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
import { admin, createTenant, eventually, pool, post, seeded, type ClientCall, type Stack, type TestTenant } from "./stack-client";
import { addPresets, chatBody, createService, inFlight, setScenario } from "./backpressure-helpers";

/** Abandoned requests for the leak check; CONCURRENCY_ABANDONED=1000 for the full figure (about 2 minutes on 2 cores). */
const ABANDONED = Number(process.env.CONCURRENCY_ABANDONED ?? 200);
const SEED = Number(process.env.ABANDON_SEED ?? 20261218);

let stack: Stack;
let url: string;

beforeAll(async () => {
  const port = 19700 + Math.floor(Math.random() * 1000);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-concurrency-${port}`, quiet: true, log: () => {} });
  url = `${stack.baseUrl}/external/v1/chat/completions`;
  // slow: a stream of about 3 s (30 chunks, 100 ms apart); quick: 40 chunks 3 ms apart, left anywhere.
  await setScenario(stack, "slow", { chunks: 30, chunk_delay_ms: 100 });
  await setScenario(stack, "quick", { chunks: 40, chunk_delay_ms: 3 });
  // crawl: about 10 s per stream, so a target's slots stay taken while the test fills them class by class.
  await setScenario(stack, "crawl", { chunks: 50, chunk_delay_ms: 200 });
  await addPresets(stack, [
    { id: "slow-target", model: "slow-chat", scenario: "slow" },
    { id: "quick-target", model: "quick-chat", scenario: "quick" },
    { id: "capped-target", model: "capped-chat", scenario: "crawl", fields: { max_concurrent_requests: 10 } },
  ]);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const auth = (t: TestTenant) => ({ authorization: `Bearer ${t.apiKey}` });

describe("a key with max_concurrent_requests 2", () => {
  it("5 concurrent slow streams: 2 run, 3 get 429 concurrency_limit_exceeded; slots free when streams end normally or are abandoned", async () => {
    const tenant = await createTenant(stack, 1_000_000_000, { max_concurrent_requests: 2 });
    const raw = await Promise.all(Array.from({ length: 5 }, () => fetch(url, { method: "POST", headers: { ...auth(tenant), "content-type": "application/json" }, body: chatBody("slow-chat") })));
    const ran = raw.filter((r) => r.status === 200);
    const refused = raw.filter((r) => r.status === 429);
    expect([ran.length, refused.length]).toEqual([2, 3]);
    for (const r of refused) {
      expect((await r.json()).error.code).toBe("concurrency_limit_exceeded");
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.headers.get("x-ratelimit-limit-concurrency")).toBe("2");
      expect(r.headers.get("x-ratelimit-remaining-concurrency")).toBe("0");
    }
    expect(ran[0]!.headers.get("x-ratelimit-limit-concurrency")).toBe("2");
    // The two end normally: read to the end.
    for (const r of ran) expect(await r.text()).toContain("[DONE]");
    await eventually("the slots of the finished streams to be free", async () => (await inFlight(stack, tenant.tenantId)) === 0 || "still held");
    const again = await Promise.all([0, 1].map(() => post(url, auth(tenant), chatBody("slow-chat"), 200)));
    expect(again.map((c) => c.status)).toEqual([200, 200]);
    // Those two were abandoned mid-stream (the client left after 200 bytes): their slots come back too.
    await eventually("the slots of the abandoned streams to be free", async () => (await inFlight(stack, tenant.tenantId)) === 0 || "still held");
    const third = await Promise.all([0, 1].map(() => post(url, auth(tenant), chatBody("slow-chat"))));
    expect(third.map((c) => c.status)).toEqual([200, 200]);
  }, 180_000);

  it(`${ABANDONED} abandoned requests leave 0 slots held`, async () => {
    // A cap of one slot per request: none is refused, and every slot taken must come back. (A client that
    // vanished is not always seen at once: its slot may wait for the stream's idle deadline.)
    const tenant = await createTenant(stack, 1_000_000_000, { max_concurrent_requests: ABANDONED });
    const random = seeded(SEED);
    const tasks: (() => Promise<ClientCall>)[] = [];
    for (let i = 0; i < ABANDONED; i++) {
      const r = random();
      // Some leave before any answer, some right after the headers, most somewhere in the body.
      const leaveAt = r < 0.05 ? -1 : r < 0.15 ? 0 : 1 + Math.floor(random() * 40 * 230);
      tasks.push(() => post(url, auth(tenant), chatBody("quick-chat", `leave ${i}`), leaveAt));
    }
    const started = Date.now();
    const calls = await pool(tasks, 8);
    const admitted = calls.filter((c) => c.status === 200).length;
    const refused = calls.filter((c) => c.status === 429).length;
    await eventually("every slot to be free", async () => {
      const n = await inFlight(stack, tenant.tenantId);
      return n === 0 || `${n} held`;
    });
    console.log(`[figure] concurrency: ${ABANDONED} abandoned requests at concurrency 8 (${admitted} answered 200 before the client left), 0 slots held ${((Date.now() - started) / 1000).toFixed(1)} s after the first`);
    expect(refused).toBe(0);
    expect(admitted).toBeGreaterThan(ABANDONED / 2);
    // And the key has all its slots again.
    await admin(stack, "PATCH", `/tenants/${tenant.tenantId}/keys/${tenant.keyId}`, { max_concurrent_requests: 8 });
    await eventually("8 requests at once to be admitted under the key's new cap of 8", async () => {
      const fresh = await Promise.all(Array.from({ length: 9 }, () => post(url, auth(tenant), chatBody("slow-chat"))));
      return fresh.map((c) => c.status).sort().join() === "200,200,200,200,200,200,200,200,429" || fresh.map((c) => c.status).join();
    });
  }, 900_000);
});

describe("the queue policy", () => {
  it("waits in a bounded queue: with 1 slot and a queue of 2, of 4 concurrent requests 1 runs, 2 wait then run, 1 gets 429 at once", async () => {
    const tenant = await createTenant(stack, 1_000_000_000);
    await admin(stack, "PATCH", `/tenants/${tenant.tenantId}`, { max_concurrent_requests: 1, concurrency_policy: { mode: "queue", max_queue_length: 2, max_wait_ms: 20_000 } });
    await eventually("the tenant's new policy to reach the gateway", async () => {
      const r = await fetch(url, { method: "POST", headers: { ...auth(tenant), "content-type": "application/json" }, body: chatBody("quick-chat") });
      await r.text();
      return r.headers.get("x-ratelimit-limit-concurrency") === "1" || `limit ${r.headers.get("x-ratelimit-limit-concurrency")}`;
    });
    const order: string[] = [];
    const calls = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        post(url, auth(tenant), chatBody("slow-chat", `queued ${i}`)).then((c) => {
          order.push(String(c.status));
          return c;
        }),
      ),
    );
    expect(calls.map((c) => c.status).sort()).toEqual([200, 200, 200, 429]);
    // The refusal came at once, before the first stream (about 3 s) had ended.
    expect(order[0]).toBe("429");
    // A wait shorter than the running stream ends with the same 429.
    await admin(stack, "PATCH", `/tenants/${tenant.tenantId}`, { concurrency_policy: { max_wait_ms: 300 } });
    await eventually("the shorter wait to reach the gateway", async () => {
      const [first, second] = await Promise.all([post(url, auth(tenant), chatBody("slow-chat")), post(url, auth(tenant), chatBody("slow-chat"))]);
      return [first.status, second.status].sort().join() === "200,429" || `${first.status},${second.status}`;
    });
  }, 180_000);
});

describe("a saturated upstream target (max_concurrent_requests 10)", () => {
  it("sheds batch first, then best-effort internal, then interactive internal, external interactive last; slots come back", async () => {
    const tenant = await createTenant(stack, 1_000_000_000);
    const tokens = {
      batch: await createService(stack, "batch"),
      best_effort_internal: await createService(stack, "best_effort_internal"),
      interactive_internal: await createService(stack, "interactive_internal"),
    };
    const internalUrl = `${stack.baseUrl}/internal/v1/chat/completions`;
    const send = (cls: keyof typeof tokens | "interactive_external") =>
      cls === "interactive_external"
        ? fetch(url, { method: "POST", headers: { ...auth(tenant), "content-type": "application/json" }, body: chatBody("capped-chat") })
        : fetch(internalUrl, { method: "POST", headers: { authorization: `Bearer ${tokens[cls]}`, "content-type": "application/json" }, body: chatBody("capped-chat") });
    const open: Response[] = [];
    /** Sends n at once, keeps the admitted streams open, and returns [admitted, shed]. */
    const stage = async (cls: keyof typeof tokens | "interactive_external", n: number) => {
      const answers = await Promise.all(Array.from({ length: n }, () => send(cls)));
      const shed = answers.filter((r) => r.status === 503);
      for (const r of shed) {
        expect((await r.json()).error.code).toBe("overloaded");
        expect(r.headers.get("retry-after")).toBe("1");
      }
      open.push(...answers.filter((r) => r.status === 200));
      return [answers.length - shed.length, shed.length];
    };
    // The class shares of 10 slots: batch 4, best effort 6, interactive internal 9, interactive external 10.
    expect(await stage("batch", 6)).toEqual([4, 2]);
    expect(await stage("best_effort_internal", 4)).toEqual([2, 2]);
    expect(await stage("batch", 1)).toEqual([0, 1]);
    expect(await stage("interactive_internal", 5)).toEqual([3, 2]);
    expect(await stage("best_effort_internal", 1)).toEqual([0, 1]);
    expect(await stage("interactive_external", 3)).toEqual([1, 2]);
    // The running streams end (here: their clients leave); every slot comes back.
    for (const r of open) await r.body?.cancel();
    await eventually("the target's slots to come back", async () => {
      const [admitted] = await stage("batch", 4);
      for (const r of open.splice(0)) await r.body?.cancel();
      return admitted === 4 || `${admitted} of 4 batch requests admitted`;
    });
  }, 180_000);
});
