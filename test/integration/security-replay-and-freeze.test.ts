// Anti-replay (nonces in the tenant's TenantGuard) and the automatic key freeze, through the real Worker.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { randomNonce, signRequest } from "../../src/security/signature";
import { mockPresets, mockRequests, mockScenario, seedKey, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "sec-replay";
const CHAT = "https://gw.test/external/v1/chat/completions";
const MODELS = "https://gw.test/external/v1/models";
const WORKER_REPLAYS = 500;

const chatBody = (content = "replay me") => JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content }] });
const guardOf = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));
const sign = (k: SeededKey, body: string, extra: { nonce?: string; secret?: string } = {}) =>
  signRequest({ key: k.apiKey, secret: extra.secret ?? k.signingSecret, method: "POST", url: CHAT, body, nonce: extra.nonce });

function send(headers: Record<string, string>, body: string) {
  return SELF.fetch(CHAT, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

async function outcome(res: Response): Promise<string> {
  const body = (await res.json()) as any;
  return res.ok ? String(res.status) : `${res.status} ${body.error.code}`;
}

/** Runs `count` tasks with at most `concurrency` in flight; returns how often each outcome occurred. */
async function tally(count: number, concurrency: number, task: (i: number) => Promise<string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const result = await task(next++);
        out[result] = (out[result] ?? 0) + 1;
      }
    }),
  );
  return out;
}

function tallyOf(results: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r] = (out[r] ?? 0) + 1;
  return out;
}


beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

describe("nonce anti-replay", { timeout: 30_000 }, () => {
  it("an exact replay within the nonce TTL is 401 replayed_nonce, and reaches no upstream", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const body = chatBody();
    const headers = await sign(k, body);
    expect((await send(headers, body)).status).toBe(200);
    const before = (await mockRequests(SCENARIO)).count;
    expect(await outcome(await send(headers, body))).toBe("401 replayed_nonce");
    expect((await mockRequests(SCENARIO)).count).toBe(before);
  });

  it("same nonce, different body: the old signature is 401 invalid_signature; re-signed by the secret holder it is 401 replayed_nonce", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const nonce = randomNonce();
    const first = chatBody("first body");
    const headers = await sign(k, first, { nonce });
    expect((await send(headers, first)).status).toBe(200);
    // The signature covers the body's hash and is checked before the nonce store is asked: a third party
    // who swaps the body fails the signature, so the nonce is never even looked at.
    expect(await outcome(await send(headers, chatBody("second body")))).toBe("401 invalid_signature");
    // Only the secret holder can produce a valid signature for the new body; the nonce is then spent.
    const second = chatBody("second body");
    expect(await outcome(await send(await sign(k, second, { nonce }), second))).toBe("401 replayed_nonce");
  });

  it("a nonce is per tenant: another tenant may use the same nonce value", async () => {
    const a = await seedTenant({ key: { signature: "required" } });
    const b = await seedTenant({ key: { signature: "required" } });
    const nonce = randomNonce();
    const body = chatBody();
    expect((await send(await sign(a, body, { nonce }), body)).status).toBe(200);
    expect((await send(await sign(b, body, { nonce }), body)).status).toBe(200);
  });

  // The hold / nonce owner is a gateway-minted request id, not the trace id the client can set with
  // x-request-id or traceparent: a verbatim replay carrying the client's own id is still a replay.
  it("an exact replay that carries the client's own x-request-id or traceparent is still 401 replayed_nonce", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const idHeaders: Record<string, string>[] = [{ "x-request-id": `client-req-${crypto.randomUUID()}` }, { traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01` }];
    for (const idHeader of idHeaders) {
      const body = chatBody();
      const headers = { ...(await sign(k, body)), ...idHeader };
      expect((await send(headers, body)).status).toBe(200);
      expect(await outcome(await send(headers, body))).toBe("401 replayed_nonce");
    }
  });

  it("two different requests with the same client x-request-id are both admitted and both billed", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const guard = guardOf(k.tenantId);
    // Settlement runs after the response: the balance is final once no hold is open.
    const settledBalance = async () => {
      const snap = await waitFor("no open hold", async () => {
        const now = await guard.snapshot();
        return now.openHolds === 0 && now;
      });
      return snap.balanceMicros;
    };
    const start = await settledBalance();
    const requestId = { "x-request-id": `same-id-${crypto.randomUUID()}` };
    const body = chatBody();
    expect((await send({ ...(await sign(k, body)), ...requestId }, body)).status).toBe(200);
    const afterOne = await settledBalance();
    expect(afterOne).toBeLessThan(start);
    expect((await send({ ...(await sign(k, body)), ...requestId }, body)).status).toBe(200);
    const afterTwo = await settledBalance();
    expect(start - afterTwo).toBe(2 * (start - afterOne));
  });

  // KNOWN BUG (src/routes/models.ts): GET /models checks the signature but never claims the nonce.
  it("a replayed signed GET /models is 401 replayed_nonce", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const headers = await signRequest({ key: k.apiKey, secret: k.signingSecret, method: "GET", url: MODELS });
    expect((await SELF.fetch(MODELS, { headers })).status).toBe(200);
    expect(await outcome(await SELF.fetch(MODELS, { headers }))).toBe("401 replayed_nonce");
  });
});

// Signature failures are counted off the response path (waitUntil). These requests go through the
// Worker's own fetch handler with an ExecutionContext we can wait on, so "all N failures are recorded"
// is a fact before the next step, not a sleep.
describe("automatic freeze after repeated signature failures", { timeout: 30_000 }, () => {
  async function sendAndSettle(headers: Record<string, string>, body: string): Promise<string> {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(CHAT, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }), env, ctx);
    const result = await outcome(res);
    await waitOnExecutionContext(ctx);
    return result;
  }
  const badSignatures = async (k: SeededKey, count: number, ip?: string) => {
    const results = await Promise.all(
      Array.from({ length: count }, async () => {
        const body = chatBody();
        const headers = await sign(k, body, { secret: `gss_${"x".repeat(43)}` });
        return sendAndSettle(ip ? { ...headers, "cf-connecting-ip": ip } : headers, body);
      }),
    );
    return tallyOf(results);
  };
  const goodRequest = async (k: SeededKey, ip?: string) => {
    const body = chatBody();
    const headers = await sign(k, body);
    return sendAndSettle(ip ? { ...headers, "cf-connecting-ip": ip } : headers, body);
  };
  const statusOf = async (k: SeededKey) => (await guardOf(k.tenantId).snapshot()).keys[k.keyId]?.status;

  it("20 invalid signatures in 10 minutes freeze the key: 403 key_frozen even when signed correctly; setKeyStatus active unfreezes", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    expect(await badSignatures(k, 19)).toEqual({ "401 invalid_signature": 19 });
    expect(await statusOf(k)).toBeUndefined();
    expect(await goodRequest(k)).toBe("200");
    expect(await badSignatures(k, 1)).toEqual({ "401 invalid_signature": 1 });
    expect(await statusOf(k)).toBe("frozen");
    expect(await goodRequest(k)).toBe("403 key_frozen");

    await guardOf(k.tenantId).setKeyStatus(k.keyId, "active");
    expect(await goodRequest(k)).toBe("200");
    // Unfreezing starts a clean slate: 19 more failures do not refreeze the key.
    expect(await badSignatures(k, 19)).toEqual({ "401 invalid_signature": 19 });
    expect(await goodRequest(k)).toBe("200");
  });

  it("stale timestamps count toward the freeze too", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const body = chatBody();
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const stale = await signRequest({ key: k.apiKey, secret: k.signingSecret, method: "POST", url: CHAT, body, now: Math.floor(Date.now() / 1000) - 3_600 });
        return sendAndSettle(stale, body);
      }),
    );
    expect(tallyOf(results)).toEqual({ "401 stale_timestamp": 20 });
    expect(await goodRequest(k)).toBe("403 key_frozen");
  });

  it("failures from an address outside the key's allowlist do not count (no DoS lever for outsiders)", async () => {
    const k = await seedTenant({ key: { signature: "required", ip_allowlist: ["203.0.113.0/24"] } });
    expect(await badSignatures(k, 30, "198.51.100.7")).toEqual({ "403 ip_not_allowed": 30 });
    // From inside the allowlist: 19 failures still leave the key usable...
    expect(await badSignatures(k, 19, "203.0.113.9")).toEqual({ "401 invalid_signature": 19 });
    expect(await statusOf(k)).toBeUndefined();
    expect(await goodRequest(k, "203.0.113.9")).toBe("200");
    // ...and the 20th freezes it: the 30 outside failures were never counted.
    expect(await badSignatures(k, 1, "203.0.113.9")).toEqual({ "401 invalid_signature": 1 });
    expect(await goodRequest(k, "203.0.113.9")).toBe("403 key_frozen");
  });

  it("a frozen key does not affect the tenant's other keys", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    await guardOf(k.tenantId).setKeyStatus(k.keyId, "frozen");
    expect(await goodRequest(k)).toBe("403 key_frozen");
    const other = await seedKey(k.tenantId, { signature: "required" });
    expect(await goodRequest(other)).toBe("200");
  });

  // KNOWN BUG (src/routes/models.ts): GET /models never consults the TenantGuard, so freezes, DO-side
  // revocations and bans do not apply to it.
  it("a frozen key gets 403 key_frozen on GET /models too", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    await guardOf(k.tenantId).setKeyStatus(k.keyId, "frozen");
    const headers = await signRequest({ key: k.apiKey, secret: k.signingSecret, method: "GET", url: MODELS });
    expect(await outcome(await SELF.fetch(MODELS, { headers }))).toBe("403 key_frozen");
  });
});

// Last in the file: the 500 replays leave a backlog of audit messages that would slow the tests after it.
describe("replays in bulk", { timeout: 120_000 }, () => {
  // 10,000 replays through SELF.fetch take minutes on a shared 2-core machine, so: 500 through the Worker
  // (10 in flight: measured faster here than 50, which only queues up inside the one isolate), and 10,000
  // straight at the nonce path of the tenant's TenantGuard (admit() over RPC, 50 in flight) with the nonce
  // and timestamp the Worker accepted.
  it(`${WORKER_REPLAYS} replays through the Worker and 10,000 through admit(): 0 accepted, 0 upstream calls, nothing held`, async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const body = chatBody();
    const headers = await sign(k, body);
    expect((await send(headers, body)).status).toBe(200);
    const upstreamBefore = (await mockRequests(SCENARIO)).count;

    let started = Date.now();
    const viaWorker = await tally(WORKER_REPLAYS, 10, async () => outcome(await send(headers, body)));
    console.log(`${WORKER_REPLAYS} replays through SELF.fetch (10 in flight): ${Date.now() - started} ms, ${JSON.stringify(viaWorker)}`);
    // 0 accepted. Under heavy load an admit() can exceed its 2 s budget: the Worker then fails closed with
    // 503 auth_unavailable ("replay check unavailable"), which is a refusal too; nothing else may appear.
    expect(Object.keys(viaWorker).filter((o) => o !== "401 replayed_nonce" && o !== "503 auth_unavailable")).toEqual([]);
    expect(viaWorker["401 replayed_nonce"]).toBeGreaterThan(0);
    expect((await mockRequests(SCENARIO)).count).toBe(upstreamBefore);

    const guard = guardOf(k.tenantId);
    const before = await guard.snapshot();
    const nonce = { value: headers["X-Gateway-Nonce"]!, timestamp: Number(headers["X-Gateway-Timestamp"]) };
    started = Date.now();
    const viaGuard = await tally(10_000, 50, async (i) => {
      const result = await guard.admit({
        requestId: `replay-${i}`,
        keyId: k.keyId,
        channel: "external",
        capability: "chat",
        clientIp: null,
        nonce,
        limits: {},
        quotas: [],
        estimate: { tokens: 10, costMicros: 100 },
        chargeBalance: true,
      });
      return result.ok ? "admitted" : result.failure.kind;
    });
    console.log(`10,000 replays through TenantGuard.admit() (50 in flight): ${Date.now() - started} ms, ${JSON.stringify(viaGuard)}`);
    expect(viaGuard).toEqual({ replayed_nonce: 10_000 });
    const after = await guard.snapshot();
    expect({ balance: after.balanceMicros, holds: after.openHolds }).toEqual({ balance: before.balanceMicros, holds: 0 });
  });
});
