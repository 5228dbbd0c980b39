// A stored Jinja template fed a hostile variable through the real Worker: refused quickly with a 400
// naming the limit, and a concurrent normal request is not held up behind it (renders are synchronous,
// so an unbounded one would stall every request in the isolate).
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { mockPresets, mockScenario, seedPresets, seedService } from "../fixtures/seed";

const SCENARIO = "sec-templates";
let service: { token: string };

async function chat(body: Record<string, unknown>): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const res = await SELF.fetch("https://gw.test/internal/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${service.token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 8, ...body }),
  });
  return { status: res.status, body: await res.json(), ms: Date.now() - started };
}

const hostile = () => chat({ template: { name: "counter" }, variables: { n: 500_000 } });
const normal = () => chat({});

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  service = await seedService();
  const counter = { name: "counter", version: 1, engine: "jinja", messages: [{ role: "system", content: "{% for i in range(n) %}{{ i }} {% endfor %}" }] };
  await env.CONFIG_KV.put(kvKeys.template(counter.name, 1), JSON.stringify(counter));
  await env.CONFIG_KV.put(kvKeys.templateLatest(counter.name), JSON.stringify(counter));
});

describe("template work limits through the Worker", () => {
  it("range(n) with a caller-supplied huge n is a 400 template_limit_exceeded naming the limit, quickly", async () => {
    const res = await hostile();
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "template_limit_exceeded", type: "invalid_request_error", param: "template" });
    expect(res.body.error.message).toContain("max_loop_iterations");
    expect(res.body.trace_id).toEqual(expect.any(String));
    // Generous: the unbounded render took seconds, past the 2 s step timeout.
    expect(res.ms).toBeLessThan(2_000);
    // The same template with a small n still renders.
    expect((await chat({ template: { name: "counter" }, variables: { n: 3 } })).status).toBe(200);
  });

  it("a concurrent normal request stays fast while hostile renders are refused", async () => {
    await normal();
    const alone: number[] = [];
    for (let i = 0; i < 3; i++) alone.push((await normal()).ms);
    const baseline = Math.max(...alone);
    const [h1, h2, beside] = await Promise.all([hostile(), hostile(), normal()]);
    expect([h1.status, h2.status, beside.status]).toEqual([400, 400, 200]);
    // Generous on a shared machine: the unbounded renders held the isolate for seconds.
    expect(beside.ms).toBeLessThan(baseline * 4 + 1_000);
  });
});
