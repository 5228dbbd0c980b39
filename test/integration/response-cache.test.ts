// Response cache through the real Worker, Cache API, KV and mock provider: a miss then a hit, key
// normalization, a new preset version never serves an old answer, Cache-Control and the TTL header,
// tenant isolation (attack first), shared scope only on presets marked safe, streams.
import { describe, expect, it } from "vitest";
import { mockRequests, seedPresets, seedTenant } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";
import { cachedPresets, chat, MESSAGES, send, storedFrom } from "../fixtures/response-cache";

const ON = { cache: { enabled: true, ttl_s: 300 } };

describe("response cache", () => {
  it("a miss, then a hit with the same body and no upstream call", async () => {
    await cachedPresets("rc-basic");
    const key = await seedTenant({ tenant: ON });
    const first = await send(key, chat("what is the capital of France?"));
    expect(first.status).toBe(200);
    expect(first.headers.get("x-gateway-cache")).toBe("miss");
    const firstBody: unknown = await first.json();
    await storedFrom(first);
    const second = await send(key, chat("what is the capital of France?"));
    expect(second.headers.get("x-gateway-cache")).toBe("hit");
    expect(second.headers.get("content-type")).toBe("application/json");
    expect(await second.json()).toEqual(firstBody);
    expect((await mockRequests("rc-basic")).count).toBe(1);
  });

  it("says bypass when the cache is off, and for non-deterministic requests unless the caller opts in", async () => {
    await cachedPresets("rc-bypass");
    const off = await seedTenant();
    expect((await send(off, chat("hello"))).headers.get("x-gateway-cache")).toBe("bypass");
    const on = await seedTenant({ tenant: ON });
    expect((await send(on, chat("hello", { temperature: 0.7 }))).headers.get("x-gateway-cache")).toBe("bypass");
    expect((await send(on, chat("hello", { n: 2 }))).headers.get("x-gateway-cache")).toBe("bypass");
    expect((await send(on, { model: "mock-openai-chat", messages: [{ role: "user", content: "hello" }] })).headers.get("x-gateway-cache")).toBe("bypass");
    const optedIn = await send(on, chat("hello", { temperature: 0.7 }), { "x-gateway-cache-nondeterministic": "true" });
    expect(optedIn.headers.get("x-gateway-cache")).toBe("miss");
  });

  it("normalizes the key: user, metadata, stream options and key order do not matter; the prompt does", async () => {
    await cachedPresets("rc-norm");
    const key = await seedTenant({ tenant: ON });
    await storedFrom(await send(key, chat("normalize me", { max_tokens: 50 })));
    const reordered = { max_tokens: 50, user: "someone", metadata: { a: "b" }, messages: [{ content: "normalize me", role: "user" }], temperature: 0, model: "mock-openai-chat" };
    expect((await send(key, reordered)).headers.get("x-gateway-cache")).toBe("hit");
    expect((await send(key, chat("normalize me", { max_tokens: 51 }))).headers.get("x-gateway-cache")).toBe("miss");
    expect((await send(key, chat("normalize me too", { max_tokens: 50 }))).headers.get("x-gateway-cache")).toBe("miss");
  });

  it("never serves an answer stored under an older preset version", async () => {
    const items = await cachedPresets("rc-version");
    const key = await seedTenant({ tenant: ON });
    await storedFrom(await send(key, chat("versioned")));
    expect((await send(key, chat("versioned"))).headers.get("x-gateway-cache")).toBe("hit");
    await seedPresets(items);
    expect((await send(key, chat("versioned"))).headers.get("x-gateway-cache")).toBe("miss");
  });

  it("Cache-Control no-cache skips the read, no-store skips both, x-gateway-cache-ttl 0 stores nothing, a bad TTL is a 400", async () => {
    await cachedPresets("rc-control");
    const key = await seedTenant({ tenant: ON });
    await storedFrom(await send(key, chat("control")));
    const fresh = await send(key, chat("control"), { "cache-control": "no-cache" });
    expect(fresh.headers.get("x-gateway-cache")).toBe("miss");
    expect((await send(key, chat("control"), { "cache-control": "no-store" })).headers.get("x-gateway-cache")).toBe("bypass");
    expect((await mockRequests("rc-control")).count).toBe(3);
    const unstored = await send(key, chat("ttl zero"), { "x-gateway-cache-ttl": "0" });
    expect(unstored.headers.get("x-gateway-cache")).toBe("miss");
    expect(unstored.headers.get("x-gateway-cache-key")).toBeNull();
    expect((await send(key, chat("ttl zero"))).headers.get("x-gateway-cache")).toBe("miss");
    const bad = await send(key, chat("ttl bad"), { "x-gateway-cache-ttl": "soon" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("x-gateway-cache-ttl");
  });

  it("attack: tenant B never gets tenant A's answer, even asking for shared scope on a preset not marked safe", async () => {
    await cachedPresets("rc-isolation");
    const a = await seedTenant({ tenant: ON });
    const b = await seedTenant({ tenant: { cache: { enabled: true, scope: "shared" } } });
    const secret = chat("tenant A's private question");
    await storedFrom(await send(a, secret));
    const stolen = await send(b, secret);
    expect(stolen.headers.get("x-gateway-cache")).toBe("miss");
    // Even A asking with shared scope cannot publish into a shared entry of an unsafe preset.
    const aShared = await seedTenant({ tenant: { cache: { enabled: true, scope: "shared" } } });
    await storedFrom(await send(aShared, chat("published?")));
    expect((await send(b, chat("published?"))).headers.get("x-gateway-cache")).toBe("miss");
  });

  it("shared scope crosses tenants only on a preset marked shared_safe", async () => {
    await cachedPresets("rc-shared", { shared_safe: true });
    const shared = { cache: { enabled: true, scope: "shared" as const } };
    const a = await seedTenant({ tenant: shared });
    const b = await seedTenant({ tenant: shared });
    await storedFrom(await send(a, chat("public knowledge")));
    expect((await send(b, chat("public knowledge"))).headers.get("x-gateway-cache")).toBe("hit");
    const tenantScoped = await seedTenant({ tenant: ON });
    expect((await send(tenantScoped, chat("public knowledge"))).headers.get("x-gateway-cache")).toBe("miss");
  });

  it("a streamed request is answered from a stored answer as well-formed SSE, usage chunk and [DONE]", async () => {
    await cachedPresets("rc-stream-hit");
    const key = await seedTenant({ tenant: ON });
    const first = await send(key, chat("stream me"));
    const answer = (await first.json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: Record<string, number> };
    await storedFrom(first);
    const res = await send(key, chat("stream me", { stream: true, stream_options: { include_usage: true } }));
    expect(res.headers.get("x-gateway-cache")).toBe("hit");
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(res);
    expect(events.at(-1)!.data).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe(answer.choices[0]!.message.content);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === answer.choices[0]!.finish_reason)).toBe(true);
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: answer.usage.prompt_tokens, completion_tokens: answer.usage.completion_tokens, total_tokens: answer.usage.total_tokens });
    const noUsage = await readSse(await send(key, chat("stream me", { stream: true })));
    expect(noUsage.some((e) => e.data.includes('"usage"'))).toBe(false);
    // An Anthropic-format request is the OpenAI request with max_completion_tokens: one entry serves both formats.
    await storedFrom(await send(key, chat("stream me", { max_completion_tokens: 1000 })));
    const anthropic = await send(key, { model: "mock-openai-chat", max_tokens: 1000, temperature: 0, stream: true, messages: [{ role: "user", content: "stream me" }] }, {}, MESSAGES);
    expect(anthropic.headers.get("x-gateway-cache")).toBe("hit");
    const kinds = (await readSse(anthropic)).map((e) => e.event);
    expect(kinds[0]).toBe("message_start");
    expect(kinds.at(-1)).toBe("message_stop");
    expect((await mockRequests("rc-stream-hit")).count).toBe(2);
  });

  it("a streamed miss that completed is stored; one that broke is not", async () => {
    await cachedPresets("rc-stream-miss");
    const key = await seedTenant({ tenant: ON });
    const streamed = await send(key, chat("streamed first", { stream: true }));
    const events = await readSse(streamed);
    const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "").join("");
    await storedFrom(streamed);
    const hit = await send(key, chat("streamed first"));
    expect(hit.headers.get("x-gateway-cache")).toBe("hit");
    expect(((await hit.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(text);

    await cachedPresets("rc-stream-broken", {}, { fault: "reset_mid_stream" });
    const broken = await send(key, chat("broken stream", { stream: true }));
    const brokenEvents = await readSse(broken);
    expect(brokenEvents.some((e) => e.data.includes('"error"'))).toBe(true);
    await cachedPresets("rc-stream-broken", {}, {});
    // The broken answer was never stored: the same request is a miss, answered by the upstream.
    expect((await send(key, chat("broken stream"))).headers.get("x-gateway-cache")).toBe("miss");
  });
});
