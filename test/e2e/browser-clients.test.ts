// Browsers calling the gateway, end to end: the local stack, a key whose allowed_origins lists one page
// origin, and headless Chromium with the same-origin policy on. A page on that origin calls the gateway
// with fetch and with the official openai and @anthropic-ai/sdk clients in browser mode (served to the
// page unmodified from node_modules); a page on another origin is refused, before and after preflight.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
import { launchChromium } from "../fixtures/browser.mjs";
import { createTenant, type Stack } from "./stack-client";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The SDKs' browser builds are their own ESM files, which import each other by relative paths only.
const VENDOR: Record<string, string> = { openai: "node_modules/openai", anthropic: "node_modules/@anthropic-ai/sdk" };

let stack: Stack;
let browser: Browser;
let allowedSite: Server;
let otherSite: Server;
let apiKey: string;

const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

/** A site: a blank page at /, and the SDKs' files at /vendor/<name>/... */
function site(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://site");
    const vendor = /^\/vendor\/(\w+)\/(.+)$/.exec(url.pathname);
    if (vendor && VENDOR[vendor[1]!]) {
      const base = path.join(ROOT, VENDOR[vendor[1]!]!);
      const file = path.normalize(path.join(base, vendor[2]!));
      if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": "text/javascript" });
      return createReadStream(file).pipe(res);
    }
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>tenant app</title><p>app</p>");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** A page on the site with both SDKs loaded from the site itself (as an app bundles them): window.OpenAI, window.Anthropic. */
async function pageOn(server: Server): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(origin(server));
  // A module script written as text: the test file's own import() calls are rewritten by vitest, page code must not be.
  await page.addScriptTag({
    type: "module",
    content: 'import OpenAI from "/vendor/openai/index.mjs"; import Anthropic from "/vendor/anthropic/index.mjs"; Object.assign(window, { OpenAI, Anthropic, sdkReady: true });',
  });
  await page.waitForFunction(() => (window as any).sdkReady === true);
  return page;
}

beforeAll(async () => {
  [allowedSite, otherSite] = await Promise.all([site(), site()]);
  const port = 19000 + Math.floor(Math.random() * 500);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-browser-${port}`, quiet: true, log: () => {} });
  ({ apiKey } = await createTenant(stack, 50_000_000, { allowed_origins: [origin(allowedSite)] }));
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await Promise.all([allowedSite, otherSite].map((s) => new Promise((r) => s?.close(r))));
});

/** In the page: a chat completion with fetch, what the page can read of the answer, or the error's name. */
async function fetchChat(page: Page, gateway: string, key: string) {
  return page.evaluate(
    async ({ gateway, key }) => {
      try {
        const res = await fetch(`${gateway}/external/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "Hello from a page" }] }),
        });
        const body = await res.json();
        return { status: res.status, text: body.choices?.[0]?.message?.content as string, requestId: res.headers.get("x-request-id"), remaining: res.headers.get("x-ratelimit-remaining-requests") };
      } catch (error) {
        return { blocked: (error as Error).name };
      }
    },
    { gateway, key },
  );
}

describe("a page on an allowed origin", () => {
  it("calls the gateway with fetch and reads the answer, its request id and rate-limit headers", async () => {
    const page = await pageOn(allowedSite);
    const result = await fetchChat(page, stack.baseUrl, apiKey);
    expect(result).toMatchObject({ status: 200, text: expect.stringMatching(/^Mock reply to: Hello from a page/) });
    expect(result.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(result.remaining)).toBeGreaterThanOrEqual(0);
    await page.close();
  });

  it("uses the official openai client in browser mode: completion, stream, _request_id, typed errors", async () => {
    const page = await pageOn(allowedSite);
    const result = await page.evaluate(
      async ({ baseURL, apiKey }) => {
        const client = new (window as any).OpenAI({ baseURL, apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
        const reply = await client.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "Browser client" }] });
        let streamed = "";
        for await (const chunk of await client.chat.completions.create({ model: "mock-openai-chat", stream: true, messages: [{ role: "user", content: "Browser stream" }] })) {
          streamed += chunk.choices[0]?.delta?.content ?? "";
        }
        const error = await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }).catch((e: any) => e);
        return { text: reply.choices[0].message.content, requestId: reply._request_id, streamed, error: { name: error.constructor.name, status: error.status, code: error.code, requestID: error.requestID } };
      },
      { baseURL: `${stack.baseUrl}/external/v1`, apiKey },
    );
    expect(result.text).toMatch(/^Mock reply to: Browser client/);
    expect(result.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(result.streamed).toMatch(/^Mock reply to: Browser stream/);
    expect(result.error).toMatchObject({ name: "NotFoundError", status: 404, code: "model_not_found", requestID: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await page.close();
  });

  it("uses the official @anthropic-ai/sdk client in browser mode: messages, requestID, countTokens", async () => {
    const page = await pageOn(allowedSite);
    const result = await page.evaluate(
      async ({ baseURL, apiKey }) => {
        const client = new (window as any).Anthropic({ baseURL, apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
        const reply = await client.messages.create({ model: "mock-anthropic-chat", max_tokens: 64, messages: [{ role: "user", content: "Anthropic in a browser" }] });
        const counted = await client.messages.countTokens({ model: "mock-anthropic-chat", messages: [{ role: "user", content: "Anthropic in a browser" }] });
        const error = await client.messages.create({ model: "no-such-model", max_tokens: 8, messages: [{ role: "user", content: "x" }] }).catch((e: any) => e);
        return { text: reply.content[0].text, requestId: reply._request_id, inputTokens: counted.input_tokens, usage: reply.usage.input_tokens, error: { name: error.constructor.name, status: error.status, requestID: error.requestID } };
      },
      { baseURL: `${stack.baseUrl}/external`, apiKey },
    );
    expect(result.text).toMatch(/^Mock reply to: Anthropic in a browser/);
    expect(result.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(result.inputTokens).toBe(result.usage);
    expect(result.error).toMatchObject({ name: "NotFoundError", status: 404, requestID: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await page.close();
  });
});

describe("a page on another origin", () => {
  it("is refused: fetch and the openai client both fail, and no chat reached the upstream on its behalf", async () => {
    const upstreamCalls = async () => ((await (await fetch(`${stack.mockUrl}/__mock/scenarios/default`)).json()) as { count: number }).count;
    const before = await upstreamCalls();
    const page = await pageOn(otherSite);
    expect(await fetchChat(page, stack.baseUrl, apiKey)).toEqual({ blocked: "TypeError" });
    const viaClient = await page.evaluate(
      async ({ baseURL, apiKey }) => {
        const client = new (window as any).OpenAI({ baseURL, apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
        return client.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "x" }] }).then(() => "answered", (e: any) => e.constructor.name);
      },
      { baseURL: `${stack.baseUrl}/external/v1`, apiKey },
    );
    expect(viaClient).toBe("APIConnectionError");
    expect(await upstreamCalls()).toBe(before);
    await page.close();
  });

  it("is refused by the key even when the browser skips the preflight (a simple request)", async () => {
    // A form-encoded POST needs no preflight: the browser sends it, the key refuses the origin, and the page reads nothing.
    const page = await pageOn(otherSite);
    const result = await page.evaluate(async (url) => {
      try {
        await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
        return "read";
      } catch (error) {
        return (error as Error).name;
      }
    }, `${stack.baseUrl}/external/v1/chat/completions`);
    expect(result).toBe("TypeError");
    const direct = await fetch(`${stack.baseUrl}/external/v1/models`, { headers: { authorization: `Bearer ${apiKey}`, origin: origin(otherSite) } });
    expect(direct.status).toBe(403);
    expect(((await direct.json()) as any).error.code).toBe("origin_not_allowed");
    await page.close();
  });
});
