// Gray release through the real Worker, KV, queues and ledger: prices in the ledger follow the version in
// force, a rollout reaches only its tenants, and a rollback reaches an isolate that cached the rolled-out
// version within the documented delay (config cache TTL + 20 % jitter), at once where it was written.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import type { PresetItem } from "../../src/config/schemas";
import { createDb } from "../../src/db/client";
import { mockPresets, mockRequests, mockScenario, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const ledger = createDb(env);
afterAll(() => ledger.dispose());

const V1_PRICE = { input_per_million_micros: 1_000_000, output_per_million_micros: 2_000_000, per_request_micros: 0, currency: "USD" };
const V2_PRICE = { input_per_million_micros: 3_000_000, output_per_million_micros: 5_000_000, per_request_micros: 100, currency: "USD" };

const chatPreset = (scenario: string, pricing = V1_PRICE): PresetItem => ({ ...mockPresets(scenario).find((p) => p.model === "mock-openai-chat")!, pricing });

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await SELF.fetch(`https://gw.test/admin/v1${path}`, {
    method,
    headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function chat(tenant: SeededKey): Promise<{ requestId: string; usage: { prompt_tokens: number; completion_tokens: number } }> {
  const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "which version am I on?" }] }),
  });
  expect(res.status).toBe(200);
  return { requestId: res.headers.get("x-gateway-request-id")!, usage: ((await res.json()) as any).usage };
}

const ledgerRow = (requestId: string) =>
  waitFor(`the ledger row of ${requestId}`, () => ledger.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst());

const countOf = async (scenario: string) => (await mockRequests(scenario)).count;

beforeAll(async () => {
  for (const s of ["rr-v1", "rr-v2", "rr-p1", "rr-p2"]) await mockScenario(s, {});
});

describe("prices follow the version in force", { timeout: 30_000 }, () => {
  it("one request under v1's price, one under v2's: two ledger rows with their price versions", async () => {
    const tenant = await seedTenant();
    const v1 = await admin("PUT", "/presets", { items: [chatPreset("rr-p1", V1_PRICE)] });
    const first = await chat(tenant);
    const v2 = await admin("POST", "/routing/versions", { items: [chatPreset("rr-p2", V2_PRICE)] });
    await admin("POST", "/routing/promote", { version: v2.version });
    const second = await chat(tenant);

    const [row1, row2] = [await ledgerRow(first.requestId), await ledgerRow(second.requestId)];
    const cost = (p: typeof V1_PRICE, u: typeof first.usage) =>
      Math.ceil((u.prompt_tokens * p.input_per_million_micros) / 1e6) + Math.ceil((u.completion_tokens * p.output_per_million_micros) / 1e6) + p.per_request_micros;
    expect(row1).toMatchObject({ price_version: v1.version });
    expect(row2).toMatchObject({ price_version: v2.version });
    expect(BigInt(row1.amount_micros)).toBe(BigInt(-cost(V1_PRICE, first.usage)));
    expect(BigInt(row2.amount_micros)).toBe(BigInt(-cost(V2_PRICE, second.usage)));
    console.log(`[figure] ledger: v${row1.price_version} ${row1.amount_micros} micros, v${row2.price_version} ${row2.amount_micros} micros`);
    const audit = await waitFor("both audit rows", async () => {
      const rows = await ledger.db.selectFrom("audit_log").select(["request_id", "config_version"]).where("request_id", "in", [first.requestId, second.requestId]).execute();
      return rows.length === 2 && rows;
    });
    expect(Object.fromEntries(audit.map((a) => [a.request_id, a.config_version]))).toEqual({ [first.requestId]: v1.version, [second.requestId]: v2.version });
  });
});

describe("rollout and rollback", { timeout: 30_000 }, () => {
  let pilot: SeededKey;
  let other: SeededKey;
  let v1: number;
  let v2: number;

  beforeAll(async () => {
    pilot = await seedTenant();
    other = await seedTenant();
    v1 = (await admin("PUT", "/presets", { items: [chatPreset("rr-v1")] })).version;
    v2 = (await admin("POST", "/routing/versions", { items: [chatPreset("rr-v2", V2_PRICE)] })).version;
  });

  it("a rollout to listed tenants reaches them and nobody else", async () => {
    await admin("POST", "/routing/rollout", { version: v2, tenants: [pilot.tenantId], percent: 0 });
    const before = { v1: await countOf("rr-v1"), v2: await countOf("rr-v2") };
    const piloted = await chat(pilot);
    await chat(other);
    expect(await countOf("rr-v2")).toBe(before.v2 + 1);
    expect(await countOf("rr-v1")).toBe(before.v1 + 1);
    expect((await ledgerRow(piloted.requestId)).price_version).toBe(v2);
  });

  it("a rollback written in this isolate applies to the next request", async () => {
    await chat(pilot);
    await admin("POST", "/routing/rollback");
    const before = await countOf("rr-v1");
    await chat(pilot);
    expect(await countOf("rr-v1")).toBe(before + 1);
  });

  it("a rollback written elsewhere (to a lower version, at a higher revision) reaches an isolate that cached the newer version within TTL + 20% jitter", async () => {
    const state = await admin("POST", "/routing/promote", { version: v2 });
    expect(state.stable_version).toBe(v2);
    expect(state.previous_versions[0]).toBe(v1);
    const delayMs: number = state.propagation.max_isolate_delay_ms;
    await chat(other); // this isolate now caches the document with v2 stable
    // Another isolate's rollback: the same document change, written to KV without touching this isolate's cache.
    const live = (await env.CONFIG_KV.get(kvKeys.presets(), "json")) as any;
    const old = (await env.CONFIG_KV.get(`config:presets:v:${v1}`, "json")) as any;
    const reverted = { ...live, version: v1, items: old.items, revision: live.revision + 1, release: { previous: live.release.previous.slice(1), latest_version: live.release.latest_version } };
    await env.CONFIG_KV.put(kvKeys.presets(), JSON.stringify(reverted));
    const writtenAt = Date.now();

    let v2Count = await countOf("rr-v2");
    await chat(other);
    expect(await countOf("rr-v2")).toBe(v2Count + 1); // still cached: the delay is real
    let tookMs = -1;
    while (Date.now() - writtenAt < delayMs + 1_000) {
      v2Count = await countOf("rr-v2");
      await chat(other);
      if ((await countOf("rr-v2")) === v2Count) {
        tookMs = Date.now() - writtenAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`[figure] rollback written elsewhere took effect in this isolate after ${tookMs} ms (documented bound ${delayMs} ms)`);
    expect(tookMs).toBeGreaterThan(0);
    // The bound holds from the moment the isolate cached the document (before the write); 300 ms covers the polling step.
    expect(tookMs).toBeLessThanOrEqual(delayMs + 300);
  });
});
