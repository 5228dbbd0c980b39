// The routing release admin API through the real app and KV: stage, roll out, promote, roll back (one
// call), validation and state errors, one audit record per write naming the version, and the
// routing statistics view (arms, cool-downs, breaker states).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { kvKeys } from "../../src/config/kv-keys";
import type { PresetItem } from "../../src/config/schemas";
import { clearConfigCache } from "../../src/config/store";
import { durableObjectArmStatsStore } from "../../src/routing/stats-store";
import type { AuditMessage } from "../../queues/messages";
import { mockPresets } from "../fixtures/seed";

const app = buildApp();
const audits: AuditMessage[] = [];
const testEnv = {
  ...env,
  AUDIT_QUEUE: {
    send: (body: unknown, opts?: QueueSendOptions) => {
      // The write records; each call's break-glass record (ADMIN_TOKEN is used here) is src/admin/audit.test.ts's concern.
      if ((body as AuditMessage).meta.action !== "break_glass.use") audits.push(structuredClone(body) as AuditMessage);
      return env.AUDIT_QUEUE.send(body, opts);
    },
    sendBatch: (messages: Iterable<MessageSendRequest<unknown>>, opts?: QueueSendBatchOptions) => env.AUDIT_QUEUE.sendBatch(messages, opts),
  } as Queue<unknown>,
};

async function call(method: string, path: string, body?: unknown, token: string | null = "test-admin-token"): Promise<{ status: number; body: any }> {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await app.request(`/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

const chat = (scenario: string): PresetItem[] => mockPresets(scenario).filter((p) => p.model === "mock-openai-chat");
const thompson = { "mock-openai-chat": { strategy: "thompson", latency_weight: 0.2 } };

beforeEach(async () => {
  await env.CONFIG_KV.delete(kvKeys.presets());
  clearConfigCache();
  audits.length = 0;
});

describe("routing releases", () => {
  it("stage, roll out, promote, roll back: the state after each call, one audit record each", async () => {
    const v1 = await call("PUT", "/presets", { items: chat("adm-a") });
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ version: 1, release: { latest_version: 1, previous: [] } });

    const v2 = await call("POST", "/routing/versions", { items: chat("adm-b"), policies: thompson });
    expect(v2.status).toBe(201);
    expect(v2.body).toMatchObject({ version: 2, policies: { "mock-openai-chat": { strategy: "thompson", latency_weight: 0.2, half_life_s: 120 } } });
    expect((await call("GET", "/routing")).body).toMatchObject({ stable_version: 1, latest_version: 2, candidate: null });
    expect((await call("GET", "/routing/versions/2")).body.items[0].id).toBe("adm-b-openai");
    expect((await call("GET", "/routing/versions/1")).body.items[0].id).toBe("adm-a-openai");

    const rollout = await call("POST", "/routing/rollout", { version: 2, tenants: ["ten_pilot"], percent: 10 });
    expect(rollout.status).toBe(200);
    expect(rollout.body).toMatchObject({ stable_version: 1, candidate: { version: 2, tenants: ["ten_pilot"], percent: 10, in_force: true } });
    expect(rollout.body.propagation).toEqual({ config_cache_ttl_ms: 5_000, max_isolate_delay_ms: 6_000 });

    const promoted = await call("POST", "/routing/promote", {});
    expect(promoted.body).toMatchObject({ stable_version: 2, candidate: null, previous_versions: [1], policies: { "mock-openai-chat": { strategy: "thompson" } } });

    const back = await call("POST", "/routing/rollback");
    expect(back.body).toMatchObject({ stable_version: 1, previous_versions: [], rollback: { action: "reverted", version: 2 } });
    expect((await call("POST", "/routing/rollback")).status).toBe(409);

    // A running rollout is what a rollback cancels first.
    await call("POST", "/routing/rollout", { version: 2, percent: 50 });
    const cancelled = await call("POST", "/routing/rollback");
    expect(cancelled.body).toMatchObject({ stable_version: 1, candidate: null, rollback: { action: "rollout_cancelled", version: 2 } });

    expect(audits.map((a) => [a.meta.action, a.config_version])).toEqual([
      ["presets.replace", 1],
      ["routing.stage", 2],
      ["routing.rollout", 2],
      ["routing.promote", 2],
      ["routing.rollback", 1],
      ["routing.rollout", 2],
      ["routing.rollback", 1],
    ]);
    expect(audits.every((a) => a.channel === "admin" && a.meta.resource === "presets")).toBe(true);
    // Every write bumped the live revision: caches take each of them, rollbacks included.
    expect((await call("GET", "/routing")).body.revision).toBeGreaterThanOrEqual(8);
  });

  it("a document written before versioning is archived when replaced, so a rollback can return to it", async () => {
    await env.CONFIG_KV.put(kvKeys.presets(), JSON.stringify({ version: 7, items: chat("adm-legacy") }));
    const next = await call("PUT", "/presets", { items: chat("adm-new") });
    expect(next.body).toMatchObject({ version: 8, release: { previous: [7] } });
    const back = await call("POST", "/routing/rollback");
    expect(back.body).toMatchObject({ stable_version: 7 });
    expect((await call("GET", "/presets")).body.items[0].id).toBe("adm-legacy-openai");
  });

  it("refuses what cannot work: unknown versions, the stable version, future promotions, bad policies", async () => {
    await call("PUT", "/presets", { items: chat("adm-c") });
    expect((await call("POST", "/routing/rollout", { version: 9, percent: 5 })).status).toBe(404);
    expect((await call("POST", "/routing/rollout", { version: 1, percent: 5 })).body.error.code).toBe("invalid_state");
    expect((await call("POST", "/routing/promote", {})).status).toBe(409);
    expect((await call("GET", "/routing/versions/99")).status).toBe(404);

    const future = await call("POST", "/routing/versions", { items: chat("adm-d"), effective_at: "2999-01-01T00:00:00Z" });
    expect((await call("POST", "/routing/promote", { version: future.body.version })).status).toBe(409);
    const scheduled = await call("POST", "/routing/rollout", { version: future.body.version, percent: 100 });
    expect(scheduled.body.candidate).toMatchObject({ effective_at: "2999-01-01T00:00:00Z", in_force: false });

    const typo = await call("POST", "/routing/versions", { items: chat("adm-e"), policies: { "mock-openai-chta": { strategy: "ucb1" } } });
    expect(typo.status).toBe(400);
    expect(typo.body.error.param).toBe("policies.mock-openai-chta");
    const badStrategy = await call("POST", "/routing/versions", { items: chat("adm-e"), policies: { "mock-openai-chat": { strategy: "greedy" } } });
    expect(badStrategy.body.error.param).toBe("policies.mock-openai-chat.strategy");
    expect((await call("POST", "/routing/versions", { items: chat("adm-e"), effective_at: "tomorrow" })).status).toBe(400);
    expect((await call("POST", "/routing/rollout", { version: 2, percent: 150 })).status).toBe(400);
    expect((await call("POST", "/routing/rollout", { version: 2, percent: 10.001 })).status).toBe(400);
    // Refused writes leave no audit record.
    expect(audits.map((a) => a.meta.action)).toEqual(["presets.replace", "routing.stage", "routing.rollout"]);
  });

  it("every routing route wants the admin token", async () => {
    for (const [method, path] of [["GET", "/routing"], ["GET", "/routing/stats"], ["POST", "/routing/rollback"], ["POST", "/routing/promote"]] as const) {
      expect((await call(method, path, method === "POST" ? {} : undefined, null)).status).toBe(401);
    }
  });
});

describe("routing statistics view", () => {
  it("shows each arm's decayed statistics, cool-down and breaker state for the routes in force", async () => {
    const items = [...chat("adm-s1"), { ...chat("adm-s2")[0]!, id: "adm-s2-openai" }];
    await call("PUT", "/presets", { items, policies: { "mock-openai-chat": { strategy: "ucb1", cooldown_failures: 2 } } });
    const store = durableObjectArmStatsStore(env.BANDIT_STATS);
    const now = Date.now();
    await store.record(
      "mock-openai-chat",
      [
        { arm: "adm-s1-openai", success: true, reward: 1, latencyMs: 100, at: now },
        { arm: "adm-s2-openai", success: false, reward: 0, latencyMs: 50, at: now },
        { arm: "adm-s2-openai", success: false, reward: 0, latencyMs: 50, at: now },
      ],
      { halfLifeMs: 120_000, cooldownFailures: 2, cooldownMs: 30_000 },
    );
    const res = await call("GET", "/routing/stats?model=mock-openai-chat");
    expect(res.status).toBe(200);
    expect(res.body.backend).toBe("durable_object");
    const [route] = res.body.routes;
    expect(route).toMatchObject({ route: "mock-openai-chat", versions: [1], policy: { strategy: "ucb1" }, stats_error: null });
    const arms = Object.fromEntries(route.arms.map((a: any) => [a.id, a]));
    expect(arms["adm-s1-openai"]).toMatchObject({ mean_reward: 1, success_rate: 1, cooling_down: false, mean_latency_ms: 100 });
    expect(arms["adm-s2-openai"]).toMatchObject({ mean_reward: 0, cooling_down: true });
    expect(arms["adm-s2-openai"].breaker).toMatchObject({ state: "closed" });
    expect((await call("GET", "/routing/stats?model=nothing")).body.routes).toEqual([]);
  });
});
