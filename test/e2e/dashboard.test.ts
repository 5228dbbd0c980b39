// The ops dashboard end to end: real traffic through both channels of a local stack (successes,
// upstream failures injected in the mock provider, bad keys), then the page opened in headless
// Chromium, which must show those numbers, log no console errors, and leave a screenshot.
import { mkdirSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
import { launchChromium } from "../fixtures/browser.mjs";

interface Stack {
  baseUrl: string;
  mockUrl: string;
  credentials: { external: { api_key: string }; internal: { token: string }; admin_token: string };
  stop: () => Promise<void>;
}

let stack: Stack;
let browser: Browser | undefined;
const sent = { ok: 0, upstreamFailed: 0, unauthorized: 0 };

async function chat(channel: "external" | "internal", key: string): Promise<number> {
  const res = await fetch(`${stack.baseUrl}/${channel}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "dashboard traffic" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

const scenario = (settings: object | null) =>
  fetch(`${stack.mockUrl}/__mock/scenarios/default`, settings === null ? { method: "DELETE" } : { method: "PUT", body: JSON.stringify(settings), headers: { "content-type": "application/json" } });

beforeAll(async () => {
  const port = 19700 + Math.floor(Math.random() * 300);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-dashboard-${port}`, quiet: true, log: () => {} });
  const { external, internal } = stack.credentials;
  for (let i = 0; i < 4; i++) for (const [ch, key] of [["external", external.api_key], ["internal", internal.token]] as const) {
    expect(await chat(ch, key)).toBe(200);
    sent.ok++;
  }
  await scenario({ status: 500, error_message: "injected by the dashboard test" });
  for (let i = 0; i < 3; i++) {
    expect(await chat("external", external.api_key)).toBeGreaterThanOrEqual(500);
    sent.upstreamFailed++;
  }
  await scenario(null);
  for (let i = 0; i < 3; i++) {
    expect(await chat("external", "sk-not-a-real-key")).toBe(401);
    sent.unauthorized++;
  }
  // A scrape flushes this isolate's pending metrics into the aggregating object.
  const scrape = await fetch(`${stack.baseUrl}/internal/v1/metrics`, { headers: { authorization: `Bearer ${internal.token}` } });
  expect(scrape.status).toBe(200);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("GET /internal/dashboard and its data route", () => {
  it("refuses a missing or wrong token, and the data route refuses ?token=", async () => {
    expect((await fetch(`${stack.baseUrl}/internal/dashboard`)).status).toBe(401);
    expect((await fetch(`${stack.baseUrl}/internal/dashboard?token=svc_wrong`)).status).toBe(401);
    expect((await fetch(`${stack.baseUrl}/internal/dashboard`, { headers: { authorization: `Bearer ${stack.credentials.external.api_key}` } })).status).toBe(401);
    const viaQuery = await fetch(`${stack.baseUrl}/internal/dashboard/data?token=${encodeURIComponent(stack.credentials.internal.token)}`);
    expect(viaQuery.status).toBe(401);
    expect(await viaQuery.text()).not.toContain(stack.credentials.internal.token);
  });

  it("serves the page with a strict CSP to a service token or the admin token", async () => {
    for (const token of [stack.credentials.internal.token, stack.credentials.admin_token]) {
      const res = await fetch(`${stack.baseUrl}/internal/dashboard`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9]+'/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      await res.text();
    }
  });

  it("returns the traffic just sent as data", async () => {
    const res = await fetch(`${stack.baseUrl}/internal/dashboard/data`, { headers: { authorization: `Bearer ${stack.credentials.admin_token}` } });
    expect(res.status).toBe(200);
    const data = await res.json();
    expect(data.totals.requests).toBeGreaterThanOrEqual(sent.ok + sent.upstreamFailed + sent.unauthorized);
    expect(data.totals.bySource.client).toBeGreaterThanOrEqual(sent.unauthorized);
    const upstream = data.byUpstream.find((u: { key: string }) => u.key === "mock-openai");
    expect(upstream.failures).toBeGreaterThanOrEqual(sent.upstreamFailed);
    expect(upstream.rate).toBeGreaterThan(0);
    expect(data.latency.find((l: { key: string }) => l.key === "all").p95Ms).toBeGreaterThan(0);
    expect(data.tenants.length).toBeGreaterThan(0);
  });
});

describe("the dashboard in headless Chromium", () => {
  it("shows non-zero numbers from the run, strips the token from the address bar, logs no console errors", async () => {
    // The npm Chromium (or CHROMIUM_PATH); a browser that cannot start fails here, saying what to install.
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const problems: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${stack.baseUrl}/internal/dashboard?token=${encodeURIComponent(stack.credentials.internal.token)}`);
    await page.waitForSelector("body[data-loaded=true]", { timeout: 20_000 });

    expect(page.url()).not.toContain("token=");
    const requests = Number((await page.textContent("#k-requests"))!.replace(/,/g, ""));
    expect(requests).toBeGreaterThanOrEqual(sent.ok + sent.upstreamFailed + sent.unauthorized);
    expect(Number(await page.getAttribute('tr[data-upstream="mock-openai"]', "data-rate"))).toBeGreaterThan(0);
    expect(await page.textContent("#k-rate")).toMatch(/^[1-9]\d*(\.\d)?%$|^0\.\d*[1-9]\d*%$/);
    expect(await page.locator("#by-upstream-chart rect").count()).toBeGreaterThan(0);
    expect(await page.locator("#tenants tr").count()).toBeGreaterThan(1);

    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/dashboard.png", fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);
});
