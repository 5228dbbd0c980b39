// Absurd numbers in a request are the request's fault: a 400 invalid_request naming the field, before any
// hold, upstream call or charge, whatever the tenant's balance policy. Never a 503 that blames the gateway
// (balance_unavailable), never served unchecked through the fail-open path.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "request-bounds";
const BALANCE = 5_000_000;
const HUGE = 2 ** 53 - 1;

let closedTenant: SeededKey;
let openTenant: SeededKey;

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  closedTenant = await seedTenant({ balanceMicros: BALANCE });
  openTenant = await seedTenant({ balanceMicros: BALANCE, tenant: { fail_policy: { rate_limit: "open", balance: "open" } } });
});

const chat = (extra: Record<string, unknown>) => ({ model: "mock-openai-chat", messages: [{ role: "user", content: "bounded" }], ...extra });

const OPENAI_CASES: [string, Record<string, unknown>, string][] = [
  ["max_tokens 2^53-1", chat({ max_tokens: HUGE }), "max_tokens"],
  ["max_tokens just over 1,000,000", chat({ max_tokens: 1_000_001 }), "max_tokens"],
  ["max_tokens 999,999,999 (a safe integer)", chat({ max_tokens: 999_999_999 }), "max_tokens"],
  ["max_completion_tokens 2^53-1", chat({ max_completion_tokens: HUGE }), "max_completion_tokens"],
  ["n 17", chat({ n: 17 }), "n"],
  ["n 2^53-1", chat({ n: HUGE }), "n"],
  ["temperature 1e308", chat({ temperature: 1e308 }), "temperature"],
  ["top_p 2", chat({ top_p: 2 }), "top_p"],
  ["presence_penalty 1e9", chat({ presence_penalty: 1e9 }), "presence_penalty"],
  ["frequency_penalty -3", chat({ frequency_penalty: -3 }), "frequency_penalty"],
  ["top_logprobs 2^53-1", chat({ logprobs: true, top_logprobs: HUGE }), "top_logprobs"],
  ["logit_bias 1e6", chat({ logit_bias: { "50256": 1e6 } }), "logit_bias.50256"],
  ["seed 2^60", chat({ seed: 2 ** 60 }), "seed"],
  ["top_k 2^53-1", chat({ top_k: HUGE }), "top_k"],
];

async function call(path: string, tenant: SeededKey, body: unknown) {
  const res = await SELF.fetch(`https://gw.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function guardSnapshot(tenant: SeededKey) {
  return env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
}

describe("numeric request fields are bounded to what providers accept", () => {
  for (const [policy, pick] of [["default (balance closed)", () => closedTenant], ['fail_policy.balance "open"', () => openTenant]] as const) {
    it(`${policy}: every out-of-range number is a 400 naming its field; nothing held, charged or sent upstream`, async () => {
      const tenant = pick();
      const upstreamBefore = (await mockRequests(SCENARIO)).count;
      for (const [name, body, param] of OPENAI_CASES) {
        const res = await call("/external/v1/chat/completions", tenant, body);
        expect({ name, status: res.status, code: res.body.error?.code, param: res.body.error?.param }).toEqual({ name, status: 400, code: "invalid_request", param });
        expect(res.body.error.type).toBe("invalid_request_error");
      }
      const embed = await call("/external/v1/embeddings", tenant, { model: "mock-embed", input: "x", dimensions: HUGE });
      expect({ status: embed.status, param: embed.body.error?.param }).toEqual({ status: 400, param: "dimensions" });
      const anthropic = await call("/external/v1/messages", tenant, { model: "mock-openai-chat", max_tokens: HUGE, messages: [{ role: "user", content: "hi" }] });
      expect(anthropic.status).toBe(400);
      expect(JSON.stringify(anthropic.body)).toContain("max_tokens");

      expect((await mockRequests(SCENARIO)).count).toBe(upstreamBefore);
      expect(await guardSnapshot(tenant)).toMatchObject({ balanceMicros: BALANCE, openHolds: 0, holdMicros: 0 });
    });
  }

  it("the largest accepted values still run: max_tokens 1,000,000 is admitted against a balance that covers it", async () => {
    const rich = await seedTenant({ balanceMicros: 3_000_000_000 });
    const res = await call("/external/v1/chat/completions", rich, chat({ max_tokens: 1_000_000, n: 1, temperature: 2, top_p: 1, presence_penalty: 2, frequency_penalty: -2 }));
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toMatch(/^Mock reply to: bounded/);
  });

  it("a max_tokens the balance cannot cover is a 402 insufficient_balance, not an outage", async () => {
    const poor = await seedTenant({ balanceMicros: 1_000 });
    const res = await call("/external/v1/chat/completions", poor, chat({ max_tokens: 1_000_000 }));
    expect(res.status).toBe(402);
    expect(res.body.error.code).toBe("insufficient_balance");
  });
});
