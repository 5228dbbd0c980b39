// AdminAccess Durable Object: tokens and failed-login counters survive a restart between calls; the prune
// alarm drops counters whose window and lockout are over and keeps the rest.
import { abortAllDurableObjects, env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SOURCE_LIMIT } from "../src/auth/login-throttle";

const stub = (name: string) => env.ADMIN_ACCESS.get(env.ADMIN_ACCESS.idFromName(name));
const HASH = "a".repeat(64);

async function scenario(name: string, between: () => Promise<void>) {
  const now = 1_800_000_000_000;
  await stub(name).createToken({ id: "adt_one", name: "one", role: "operator", tenantId: "ten_x", prefix: "gat_abcd", tokenHash: HASH, createdBy: "env:ADMIN_TOKEN", now });
  await between();
  for (let i = 0; i < SOURCE_LIMIT.maxFailures; i++) {
    await stub(name).authenticate({ source: "203.0.113.1", breakGlass: false, tokenHash: "b".repeat(64), now: now + i });
    await between();
  }
  const login = await stub(name).authenticate({ source: "198.51.100.1", breakGlass: false, tokenHash: HASH, now: now + 100 });
  await between();
  const locked = await stub(name).authenticate({ source: "203.0.113.1", breakGlass: true, tokenHash: null, now: now + 200 });
  await between();
  await stub(name).revokeToken("adt_one", now + 300);
  await between();
  const afterRevoke = await stub(name).authenticate({ source: "198.51.100.1", breakGlass: false, tokenHash: HASH, now: now + 400 });
  const token = await stub(name).getToken("adt_one");
  return { login, locked, afterRevoke, token, counter: await stub(name).failures("203.0.113.1") };
}

describe("AdminAccess", () => {
  it("gives identical answers and state whether or not the object restarts between calls", async () => {
    const plain = await scenario("restart-plain", async () => {});
    const restarted = await scenario("restart-evicted", abortAllDurableObjects);
    expect(restarted).toEqual(plain);
    expect(plain.login).toMatchObject({ ok: true, token: { id: "adt_one", role: "operator", tenantId: "ten_x" } });
    expect(plain.locked).toMatchObject({ ok: false, reason: "throttled" });
    expect(plain.afterRevoke).toMatchObject({ ok: false, reason: "unauthorized" });
    expect(plain.token?.status).toBe("revoked");
  });

  it("its alarm prunes counters that are over and keeps live ones", async () => {
    const access = stub("prune");
    const now = Date.now();
    await access.authenticate({ source: "old", breakGlass: false, tokenHash: null, now: now - 2 * 60 * 60_000 });
    await access.authenticate({ source: "fresh", breakGlass: false, tokenHash: null, now });
    expect(await runDurableObjectAlarm(access)).toBe(true);
    expect((await access.failures("old")).failures).toBe(0);
    expect((await access.failures("fresh")).failures).toBe(1);
  });
});
