// Failed admin logins are throttled per source (IPv4, IPv6 /64) and under a global ceiling for the
// break-glass token, and audited without the token: 300 wrong tokens in a burst are not followed by a
// working right one from the same source within the lockout.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditMessage } from "../../queues/messages";
import { buildApp } from "../../src/app";
import { GLOBAL_LIMIT, GLOBAL_SUBJECT, loginSource, SOURCE_LIMIT } from "../../src/auth/login-throttle";
import { adminAccessFor } from "../../src/objects";

const app = buildApp();
const BREAK_GLASS = "test-admin-token";
const audits: AuditMessage[] = [];
const testEnv = {
  ...env,
  AUDIT_QUEUE: { send: async (body: unknown) => void audits.push(structuredClone(body) as AuditMessage), sendBatch: async () => {} } as unknown as Queue<unknown>,
};

async function login(token: string, ip: string | null, path = "/admin/v1/presets"): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (ip !== null) headers["cf-connecting-ip"] = ip;
  const ctx = createExecutionContext();
  const res = await app.request(path, { headers }, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const wrong = (i: number) => `wrong-guess-${i}-${"x".repeat(i % 7)}`;
let ownerToken = "";

beforeAll(async () => {
  const res = await login(BREAK_GLASS, "192.0.2.1", "/admin/v1/tokens");
  expect(res.status).toBe(200);
  const ctx = createExecutionContext();
  const created = await app.request(
    "/admin/v1/tokens",
    { method: "POST", headers: { authorization: `Bearer ${BREAK_GLASS}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.1" }, body: JSON.stringify({ name: "owner", role: "owner" }) },
    testEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  ownerToken = ((await created.json()) as { token: string }).token;
});

describe("admin login throttle", () => {
  it("300 wrong tokens in a burst from one source: 10 are judged, the rest refused, and then the right token is refused too", async () => {
    const source = "203.0.113.9";
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => login(wrong(i), source)));
    const elapsedMs = Date.now() - started;
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(SOURCE_LIMIT.maxFailures);
    expect(statuses.filter((s) => s === 429)).toHaveLength(300 - SOURCE_LIMIT.maxFailures);
    console.log(`300 wrong admin tokens from one source answered in ${elapsedMs} ms`);

    for (const token of [BREAK_GLASS, ownerToken]) {
      const right = await login(token, source);
      expect(right.status).toBe(429);
      expect(((await right.json()) as { error: { code: string } }).error.code).toBe("admin_login_throttled");
      const retryAfter = Number(right.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(SOURCE_LIMIT.lockoutMs / 1000 - 120);
      expect(retryAfter).toBeLessThanOrEqual(SOURCE_LIMIT.lockoutMs / 1000);
    }
    // Another source is not affected.
    expect((await login(BREAK_GLASS, "198.51.100.7")).status).toBe(200);
  });

  it("the same address spelled as IPv4-mapped IPv6, and other addresses of one IPv6 /64, share a lockout", async () => {
    expect(loginSource("::ffff:203.0.113.9")).toBe(loginSource("203.0.113.9"));
    expect((await login(BREAK_GLASS, "::ffff:203.0.113.9")).status).toBe(429);
    const net = "2001:db8:aa:bb";
    for (let i = 0; i < SOURCE_LIMIT.maxFailures; i++) expect((await login(wrong(i), `${net}::${(i + 1).toString(16)}`)).status).toBe(401);
    expect((await login(BREAK_GLASS, `${net}:ffff:ffff:ffff:fffe`)).status).toBe(429);
    expect((await login(BREAK_GLASS, `2001:DB8:AA:BB:0:0:0:77`)).status).toBe(429);
    expect((await login(BREAK_GLASS, "2001:db8:aa:bc::1")).status).toBe(200);
  });

  it("the lockout ends when its time is up (the object's decision with a later clock)", async () => {
    const access = adminAccessFor(env);
    const counter = await access.failures(loginSource("203.0.113.9"));
    expect(counter.lockedUntil).toBeGreaterThan(Date.now());
    const during = await access.authenticate({ source: loginSource("203.0.113.9"), breakGlass: true, tokenHash: null, now: counter.lockedUntil - 1 });
    expect(during.ok).toBe(false);
    const after = await access.authenticate({ source: loginSource("203.0.113.9"), breakGlass: true, tokenHash: null, now: counter.lockedUntil });
    expect(after.ok).toBe(true);
  });

  it("an owner lists the lockouts and lifts one early, from another source; the lift is audited", async () => {
    const send = async (method: string, path: string, body?: unknown) => {
      const ctx = createExecutionContext();
      const res = await app.request(path, { method, headers: { authorization: `Bearer ${ownerToken}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.1" }, body: body === undefined ? undefined : JSON.stringify(body) }, testEnv, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as any };
    };
    const list = await send("GET", "/admin/v1/login-lockouts");
    expect(list.status).toBe(200);
    expect(list.body.data.map((l: { source: string }) => l.source)).toEqual(expect.arrayContaining(["203.0.113.9", "2001:db8:aa:bb::/64"]));
    const cleared = await send("POST", "/admin/v1/login-lockouts/clear", { source: "2001:db8:aa:bb::/64" });
    expect(cleared.body).toEqual({ source: "2001:db8:aa:bb::/64", cleared: true });
    expect((await login(BREAK_GLASS, "2001:db8:aa:bb::1")).status).toBe(200);
    expect(audits.find((a) => a.meta.action === "admin_login.unlock")).toMatchObject({ meta: { resource_id: "2001:db8:aa:bb::/64", actor_role: "owner" } });
  });

  it("a revoked token is refused without counting toward a lockout", async () => {
    const access = adminAccessFor(env);
    const ctx = createExecutionContext();
    const created = await app.request("/admin/v1/tokens", { method: "POST", headers: { authorization: `Bearer ${ownerToken}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.1" }, body: JSON.stringify({ name: "stale", role: "read_only" }) }, testEnv, ctx);
    await waitOnExecutionContext(ctx);
    const stale = (await created.json()) as { id: string; token: string };
    const revoke = createExecutionContext();
    await app.request(`/admin/v1/tokens/${stale.id}/revoke`, { method: "POST", headers: { authorization: `Bearer ${ownerToken}`, "cf-connecting-ip": "192.0.2.1" } }, testEnv, revoke);
    await waitOnExecutionContext(revoke);
    for (let i = 0; i < SOURCE_LIMIT.maxFailures * 2; i++) expect((await login(stale.token, "192.0.2.160")).status).toBe(401);
    expect((await access.failures(loginSource("192.0.2.160"))).failures).toBe(0);
    expect((await login(BREAK_GLASS, "192.0.2.160")).status).toBe(200);
  });

  it("failures are audited with the source, never the token; a lockout is recorded once, refusals during it are not", async () => {
    const failed = audits.filter((a) => String(a.meta.action).startsWith("admin_login."));
    const bySource = failed.filter((a) => a.meta.source === "203.0.113.9");
    expect(bySource.map((a) => a.meta.action)).toEqual([...Array(SOURCE_LIMIT.maxFailures - 1).fill("admin_login.failed"), "admin_login.locked"]);
    for (const record of bySource) expect(record).toMatchObject({ channel: "admin", status: 401, meta: { actor: "unknown", resource: "admin_login" } });
    const everything = JSON.stringify(audits);
    for (let i = 0; i < 300; i++) expect(everything).not.toContain(wrong(i));
    expect(everything).not.toContain(BREAK_GLASS);
    expect(everything).not.toContain(ownerToken);
  });

  it("a wrong token on the dashboard counts as a failed admin login too", async () => {
    const source = "198.51.100.200";
    for (let i = 0; i < SOURCE_LIMIT.maxFailures; i++) expect((await login(wrong(i), source, "/internal/dashboard/data")).status).toBe(401);
    expect((await login(BREAK_GLASS, source, "/internal/dashboard/data")).status).toBe(429);
    expect((await login(BREAK_GLASS, source)).status).toBe(429);
  });

  it("failures spread over many sources lock the break-glass token everywhere, while named tokens keep working", async () => {
    const access = adminAccessFor(env);
    const before = (await access.failures(GLOBAL_SUBJECT)).failures;
    const sources = Math.ceil((GLOBAL_LIMIT.maxFailures - before) / (SOURCE_LIMIT.maxFailures - 1));
    for (let s = 0; s < sources; s++) {
      await Promise.all(Array.from({ length: SOURCE_LIMIT.maxFailures - 1 }, (_, i) => login(wrong(i), `100.64.${s}.1`)));
    }
    expect((await access.failures(GLOBAL_SUBJECT)).lockedUntil).toBeGreaterThan(Date.now());
    const fresh = "192.0.2.250";
    const refused = await login(BREAK_GLASS, fresh);
    expect(refused.status).toBe(429);
    expect((await login(ownerToken, fresh)).status).toBe(200);
    expect(audits.filter((a) => a.meta.action === "admin_login.global_lock")).toHaveLength(1);
    await access.clearFailures(GLOBAL_SUBJECT);
    expect((await login(BREAK_GLASS, fresh)).status).toBe(200);
  });
});
