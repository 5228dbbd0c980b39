// When the upstream reports no usage, the gateway counts what was sent and delivered itself: the prompt's
// tool definitions and tool-call arguments are input the upstream read, so they are counted too.
import { env, SELF } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { countTokens } from "../../src/billing/tokens";
import { mockPresets, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";

const handle = createDb(env);
afterAll(() => handle.dispose());

async function ledgerRow(requestId: string) {
  for (let i = 0; i < 150; i++) {
    const row = await handle.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst();
    if (row) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ledger row for ${requestId}`);
}

describe("usage counted by the gateway", () => {
  it("counts tool definitions and tool-call arguments as input when the upstream reports no usage", async () => {
    await mockScenario("estimated-tools", { fault: "no_usage" });
    await seedPresets(mockPresets("estimated-tools"));
    const tenant = await seedTenant();
    const description = "Looks a word up in the operator's very large dictionary. ".repeat(200);
    const args = JSON.stringify({ query: "dictionary ".repeat(300) });
    const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "mock-openai-chat",
        messages: [
          { role: "user", content: "look it up" },
          { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "lookup", arguments: args } }] },
          { role: "tool", tool_call_id: "c1", content: "found" },
        ],
        tools: [{ type: "function", function: { name: "lookup", description, parameters: { type: "object", properties: {} } } }],
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const row = await ledgerRow(res.headers.get("x-gateway-request-id")!);
    expect(row.usage_estimated).toBe(true);
    expect(row.input_tokens).toBeGreaterThanOrEqual((await countTokens(description)) + (await countTokens(args)));
  });
});
