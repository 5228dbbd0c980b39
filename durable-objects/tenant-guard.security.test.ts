// TenantGuard security: nonce anti-replay, auto-freeze after signature failures, key and tenant statuses.
import { describe, expect, it } from "vitest";
import { NONCE_TTL_MS } from "./tenant-guard";
import { T0, admission, admittedCount, failureKinds, guardFor, inGuard } from "../test/fixtures/tenant-guard";

const signed = (value: string, now = T0, timestamp = Math.floor(now / 1000)) => ({ nonce: { value, timestamp }, now });

describe("nonce anti-replay", () => {
  it("10,000 replays of one nonce: 0 accepted; 500 concurrent over RPC: 0 accepted", async () => {
    const stub = guardFor();
    expect((await stub.admit(admission(signed("n-1")))).ok).toBe(true);
    const accepted = await inGuard(stub, async (guard) => {
      let ok = 0;
      for (let i = 0; i < 10_000; i++) if ((await guard.admit(admission(signed("n-1", T0 + i * 50)))).ok) ok += 1;
      return ok;
    });
    expect(accepted).toBe(0);
    const concurrent = await Promise.all(Array.from({ length: 500 }, () => stub.admit(admission(signed("n-1", T0 + 500_000)))));
    expect(failureKinds(concurrent)).toEqual({ replayed_nonce: 500 });
  });

  it("of many concurrent first uses of one nonce, exactly one wins", async () => {
    const stub = guardFor();
    const results = await Promise.all(Array.from({ length: 100 }, () => stub.admit(admission(signed("race")))));
    expect(admittedCount(results)).toBe(1);
  });

  it("keeps a nonce for 600 s, then accepts it again", async () => {
    const stub = guardFor();
    expect((await stub.admit(admission(signed("n", T0)))).ok).toBe(true);
    const late = await stub.admit(admission(signed("n", T0 + NONCE_TTL_MS - 1, T0 / 1000)));
    expect(!late.ok && late.failure.kind).toBe("replayed_nonce");
    expect((await stub.admit(admission(signed("n", T0 + NONCE_TTL_MS, T0 / 1000)))).ok).toBe(true);
  });

  it("keeps a nonce signed in the future until its timestamp leaves the tolerance", async () => {
    const stub = guardFor();
    const signedAt = T0 + 250_000; // a client clock 250 s ahead, still inside the 300 s tolerance
    expect((await stub.admit(admission(signed("ahead", T0, signedAt / 1000)))).ok).toBe(true);
    const replay = await stub.admit(admission(signed("ahead", T0 + 700_000, signedAt / 1000)));
    expect(!replay.ok && replay.failure.kind).toBe("replayed_nonce");
  });

  it("burns the nonce of a rejected request, and a replay leaves no trace in the counters", async () => {
    const stub = guardFor();
    const limits = { key: { requests_per_minute: 2 } };
    await stub.admit(admission({ limits, ...signed("a") }));
    await stub.admit(admission({ limits, ...signed("b") }));
    const limited = await stub.admit(admission({ limits, ...signed("c") }));
    expect(!limited.ok && limited.failure.kind).toBe("rate_limit_exceeded");
    // After the window frees, replaying the rejected request is still a replay.
    const replayed = await stub.admit(admission({ limits, ...signed("c", T0 + 60_000, T0 / 1000) }));
    expect(!replayed.ok && replayed.failure.kind).toBe("replayed_nonce");
    // ...and the replay took no slot: both slots of the new window are free.
    const fresh = await Promise.all(["d", "e", "f"].map((n) => stub.admit(admission({ limits, ...signed(n, T0 + 60_000) }))));
    expect(admittedCount(fresh)).toBe(2);
  });

  it("a retry of the same request id with its own nonce is the same request, not a replay", async () => {
    const stub = guardFor();
    const req = admission(signed("mine"));
    const first = await stub.admit(req);
    expect(first.ok).toBe(true);
    expect(await stub.admit(req)).toMatchObject({ ok: true, holdId: req.requestId, replayed: true });
    const other = await stub.admit({ ...req, requestId: "someone-else" });
    expect(!other.ok && other.failure.kind).toBe("replayed_nonce");
    // The same request id with another nonce is another request, even while the first hold is open.
    const reused = await stub.admit({ ...req, ...signed("not-mine") });
    expect(!reused.ok && reused.failure.kind).toBe("idempotency_key_conflict");
    expect((await stub.snapshot()).openHolds).toBe(1);
  });
});

describe("signature failures and freezes", () => {
  it("freezes a key at the 20th failure in 10 minutes; admit refuses it; an admin unfreezes it", async () => {
    const stub = guardFor();
    for (let i = 1; i <= 19; i++) {
      expect(await stub.recordSignatureFailure("key-1", { now: T0 + i * 1_000 })).toEqual({ frozen: false, frozenNow: false, failures: i });
    }
    expect((await stub.admit(admission())).ok).toBe(true);
    expect(await stub.recordSignatureFailure("key-1", { now: T0 + 20_000 })).toEqual({ frozen: true, frozenNow: true, failures: 20 });
    expect(await stub.recordSignatureFailure("key-1", { now: T0 + 21_000 })).toEqual({ frozen: true, frozenNow: false, failures: 21 });

    const refused = await stub.admit(admission());
    expect(!refused.ok && refused.failure.kind).toBe("key_frozen");
    expect((await stub.admit(admission({ keyId: "key-2" }))).ok).toBe(true);
    expect((await stub.snapshot()).keys).toEqual({ "key-1": { status: "frozen" } });

    await stub.setKeyStatus("key-1", "active");
    expect((await stub.admit(admission())).ok).toBe(true);
    // The slate is clean after an unfreeze: the next failure is the first again.
    expect(await stub.recordSignatureFailure("key-1", { now: T0 + 22_000 })).toMatchObject({ frozen: false, failures: 1 });
  });

  it("counts only failures inside the window", async () => {
    const stub = guardFor();
    for (let i = 0; i < 19; i++) await stub.recordSignatureFailure("key-1", { now: T0 });
    expect(await stub.recordSignatureFailure("key-1", { now: T0 + 600_000 })).toEqual({ frozen: false, frozenNow: false, failures: 1 });
    expect(await stub.recordSignatureFailure("key-1", { now: T0 + 600_001, threshold: 2, windowMs: 10 })).toMatchObject({ failures: 2, frozen: true });
  });

  it("enforces revoked keys and banned tenants, key status first, without touching any counter", async () => {
    const stub = guardFor();
    const limits = { tenant: { requests_per_minute: 3 } };
    await stub.setKeyStatus("key-r", "revoked");
    const revoked = await stub.admit(admission({ keyId: "key-r", limits }));
    expect(!revoked.ok && revoked.failure.kind).toBe("key_revoked");

    await stub.setTenantStatus("banned");
    await stub.setKeyStatus("key-f", "frozen");
    const banned = await Promise.all(Array.from({ length: 10 }, () => stub.admit(admission({ limits }))));
    expect(failureKinds(banned)).toEqual({ tenant_banned: 10 });
    const frozenFirst = await stub.admit(admission({ keyId: "key-f", limits }));
    expect(!frozenFirst.ok && frozenFirst.failure.kind).toBe("key_frozen");

    await stub.setTenantStatus("active");
    expect((await stub.snapshot()).tenantStatus).toBe("active");
    const open = await Promise.all(Array.from({ length: 5 }, () => stub.admit(admission({ limits }))));
    expect(admittedCount(open)).toBe(3);
  });
});
