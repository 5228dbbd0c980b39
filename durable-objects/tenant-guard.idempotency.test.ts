// TenantGuard Idempotency-Keys: claimed inside admit(), completed or freed from the completion path,
// replayed without a hold, refused while in flight or with another body, freed with their hold, expired at 24 h.
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AdmissionResult, IdempotencyClaim, StoredResponse } from "../src/guard/types";
import { HOLD_TTL_MS } from "./tenant-guard";
import { IDEMPOTENCY_TTL_MS, MAX_REPLAY_BYTES } from "./tenant-guard/idempotency";
import { T0, admission, guardFor, inGuard, type GuardStub } from "../test/fixtures/tenant-guard";

const hashA = "a".repeat(64);
const hashB = "b".repeat(64);
const claim = (key: string, fingerprint = hashA): IdempotencyClaim => ({ key, fingerprint });
const response = (text: string): StoredResponse => ({ status: 200, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(text), stream: false });
const kindOf = (r: AdmissionResult) => (r.ok ? "ok" : r.replay ? "replay" : r.failure.kind);
const rows = (stub: GuardStub) => inGuard(stub, (_g, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM idempotency`).one().n);

async function completed(stub: GuardStub, key: string, text: string, now = T0): Promise<string> {
  const first = await stub.admit(admission({ idempotency: claim(key), now }));
  if (!first.ok) throw new Error(`first admission refused: ${first.failure.kind}`);
  expect(await stub.finishIdempotent({ key, holdId: first.holdId, outcome: "completed", response: response(text) })).toEqual({ applied: true });
  return first.holdId;
}

describe("one key, one request", () => {
  it("claims the key at admission; a second request is in_use (Retry-After 1) or, with another body, a conflict", async () => {
    const stub = guardFor();
    const first = await stub.admit(admission({ idempotency: claim("k1") }));
    expect(first.ok).toBe(true);
    const again = await stub.admit(admission({ idempotency: claim("k1") }));
    expect(!again.ok && again.failure).toMatchObject({ kind: "idempotency_key_in_use", retryAfterSeconds: 1, param: "Idempotency-Key" });
    const other = await stub.admit(admission({ idempotency: claim("k1", hashB) }));
    expect(!other.ok && other.failure.kind).toBe("idempotency_key_conflict");
    expect((await stub.snapshot()).openHolds).toBe(1);
  });

  it("50 concurrent admissions with one key: exactly one claims it, 49 are in_use", async () => {
    const stub = guardFor();
    const results = await Promise.all(Array.from({ length: 50 }, () => stub.admit(admission({ idempotency: claim("burst") }))));
    const kinds = results.map(kindOf);
    expect(kinds.filter((k) => k === "ok")).toHaveLength(1);
    expect(kinds.filter((k) => k === "idempotency_key_in_use")).toHaveLength(49);
  });

  it("replays the stored response with no hold and no charge, and never remembers an answer per request id", async () => {
    const stub = guardFor();
    await stub.credit(1_000, "topup");
    await completed(stub, "k2", '{"answer":42}');
    const before = await stub.snapshot();
    for (let i = 0; i < 5; i++) {
      const r = await stub.admit(admission({ idempotency: claim("k2"), estimate: { tokens: 10, costMicros: 100 }, chargeBalance: true }));
      expect(!r.ok && new TextDecoder().decode(r.replay!.body)).toBe('{"answer":42}');
      expect(!r.ok && r.replay).toMatchObject({ status: 200, headers: { "content-type": "application/json" }, stream: false });
    }
    expect(await stub.snapshot()).toEqual(before);
  });

  it("a replay is not held back by a rate limit the first request used up", async () => {
    const stub = guardFor();
    const limits = { key: { requests_per_minute: 1 } };
    const first = await stub.admit(admission({ idempotency: claim("rl"), limits }));
    await stub.finishIdempotent({ key: "rl", holdId: first.ok ? first.holdId : "", outcome: "completed", response: response("{}") });
    expect(kindOf(await stub.admit(admission({ idempotency: claim("rl"), limits })))).toBe("replay");
    expect(kindOf(await stub.admit(admission({ limits })))).toBe("rate_limit_exceeded");
  });

  it("checks the nonce first: a captured signed request cannot fetch the stored answer", async () => {
    const stub = guardFor();
    const nonce = { value: "n-1", timestamp: T0 / 1000 };
    const first = await stub.admit(admission({ idempotency: claim("signed"), nonce }));
    await stub.finishIdempotent({ key: "signed", holdId: first.ok ? first.holdId : "", outcome: "completed", response: response("{}") });
    expect(kindOf(await stub.admit(admission({ idempotency: claim("signed"), nonce })))).toBe("replayed_nonce");
    expect(kindOf(await stub.admit(admission({ idempotency: claim("signed"), nonce: { value: "n-2", timestamp: T0 / 1000 } })))).toBe("replay");
  });

  it("a frozen key gets key_frozen, not the stored answer: the status check comes first", async () => {
    const stub = guardFor();
    await completed(stub, "frozen", "{}");
    await stub.setKeyStatus("key-1", "frozen");
    expect(kindOf(await stub.admit(admission({ idempotency: claim("frozen") })))).toBe("key_frozen");
  });
});

describe("freeing a key", () => {
  it("a failed request frees its key: the retry proceeds", async () => {
    const stub = guardFor();
    const first = await stub.admit(admission({ idempotency: claim("f1") }));
    expect(await stub.finishIdempotent({ key: "f1", holdId: first.ok ? first.holdId : "", outcome: "failed" })).toEqual({ applied: true });
    expect(kindOf(await stub.admit(admission({ idempotency: claim("f1") })))).toBe("ok");
  });

  it("only the request that claimed the key can finish it", async () => {
    const stub = guardFor();
    await stub.admit(admission({ idempotency: claim("mine") }));
    expect(await stub.finishIdempotent({ key: "mine", holdId: "someone-else", outcome: "failed" })).toEqual({ applied: false });
    expect(await stub.finishIdempotent({ key: "mine", holdId: "someone-else", outcome: "completed", response: response("{}") })).toEqual({ applied: false });
    expect(kindOf(await stub.admit(admission({ idempotency: claim("mine") })))).toBe("idempotency_key_in_use");
  });

  it("releasing the hold frees the key; so does the alarm expiring it", async () => {
    const stub = guardFor();
    const released = await stub.admit(admission({ idempotency: claim("rel") }));
    await stub.release(released.ok ? released.holdId : "");
    expect(kindOf(await stub.admit(admission({ idempotency: claim("rel") })))).toBe("ok");

    // A fresh object: its clock must not be ahead of the past admission.
    const dead = guardFor();
    const past = Date.now() - HOLD_TTL_MS - 1_000;
    await dead.admit(admission({ idempotency: claim("abandoned"), now: past }));
    expect(kindOf(await dead.admit(admission({ idempotency: claim("abandoned"), now: past + 1 })))).toBe("idempotency_key_in_use");
    expect(await runDurableObjectAlarm(dead)).toBe(true);
    expect(kindOf(await dead.admit(admission({ idempotency: claim("abandoned"), now: Date.now() })))).toBe("ok");
  });

  it("a settled request that never reported its outcome keeps the key in use until the hold's lifetime ends", async () => {
    const stub = guardFor();
    const first = await stub.admit(admission({ idempotency: claim("silent"), now: T0 }));
    await stub.settle({ holdId: first.ok ? first.holdId : "", tokens: 1, costMicros: 0, inputTokens: 1, outputTokens: 0 });
    expect(kindOf(await stub.admit(admission({ idempotency: claim("silent"), now: T0 + HOLD_TTL_MS - 1 })))).toBe("idempotency_key_in_use");
    expect(kindOf(await stub.admit(admission({ idempotency: claim("silent"), now: T0 + HOLD_TTL_MS })))).toBe("ok");
  });

  it("a response over the replay limit leaves the key used but not replayable: 409 with the reason", async () => {
    const stub = guardFor();
    const first = await stub.admit(admission({ idempotency: claim("big") }));
    await stub.finishIdempotent({ key: "big", holdId: first.ok ? first.holdId : "", outcome: "too_large", bytes: MAX_REPLAY_BYTES + 1 });
    const r = await stub.admit(admission({ idempotency: claim("big") }));
    expect(!r.ok && !r.replay && r.failure.kind).toBe("idempotency_key_conflict");
    expect(!r.ok && r.failure.message).toMatch(/replay limit/);
  });
});

describe("24 hours", () => {
  it("remembers a key for 24 h after first use, then forgets it (lazily and by the alarm)", async () => {
    const stub = guardFor();
    await completed(stub, "day", "{}", T0);
    expect(kindOf(await stub.admit(admission({ idempotency: claim("day"), now: T0 + IDEMPOTENCY_TTL_MS - 1 })))).toBe("replay");
    // A new request with the old key is a new request: it proceeds and claims the key afresh.
    expect(kindOf(await stub.admit(admission({ idempotency: claim("day", hashB), now: T0 + IDEMPOTENCY_TTL_MS })))).toBe("ok");

    const other = guardFor();
    await completed(other, "old", "{}", T0);
    await other.admit(admission({ now: T0 + IDEMPOTENCY_TTL_MS + 1 })); // moves the object's clock past the expiry
    expect(await rows(other)).toBe(1);
    expect(await runDurableObjectAlarm(other)).toBe(true);
    expect(await rows(other)).toBe(0);
  });

  it("keeps claims and stored responses across a restart", async () => {
    const stub = guardFor("idem-restart");
    await completed(stub, "kept", '{"kept":true}');
    await stub.admit(admission({ idempotency: claim("flying") }));
    await abortAllDurableObjects();
    const after = guardFor("idem-restart");
    const r = await after.admit(admission({ idempotency: claim("kept") }));
    expect(!r.ok && new TextDecoder().decode(r.replay!.body)).toBe('{"kept":true}');
    expect(kindOf(await after.admit(admission({ idempotency: claim("flying") })))).toBe("idempotency_key_in_use");
  });

  it("refuses a malformed claim as a caller bug", async () => {
    // Called on the instance: a rejecting RPC leaks an unhandled rejection in the vitest pool (workers-sdk#14736).
    await inGuard(guardFor(), async (guard) => {
      await expect(guard.admit(admission({ idempotency: claim("bad\u0001key") }))).rejects.toThrow(/printable ASCII/);
      await expect(guard.admit(admission({ idempotency: { key: "k", fingerprint: "xyz" } }))).rejects.toThrow(/SHA-256/);
      await expect(guard.outboxPut("billing", { no_request_id: true })).rejects.toThrow(/request_id/);
      await expect(guard.outboxPut("other" as "billing", { request_id: "r" })).rejects.toThrow(/kind/);
    });
  });
});
