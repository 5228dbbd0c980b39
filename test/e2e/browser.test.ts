// The shared browser fixture: the npm Chromium (or CHROMIUM_PATH) starts on a machine with Node alone,
// runs a page's script, keeps the same-origin policy on (the CORS tests depend on it), and a browser that
// cannot start fails with what to install instead of skipping.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserSetupError, launchChromium } from "../fixtures/browser.mjs";

let browser: Browser;
let page: Server;
let api: Server;
const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

beforeAll(async () => {
  page = await listen(createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<p id=out>static</p><script>document.getElementById('out').textContent = 'script ran'</script>")));
  // A second origin: /open allows any origin, /closed says nothing (so a browser must refuse to share it).
  api = await listen(
    createServer((req, res) => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (req.url === "/open") headers["access-control-allow-origin"] = "*";
      res.writeHead(200, headers).end(JSON.stringify({ path: req.url }));
    }),
  );
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => page?.close(r));
  await new Promise((r) => api?.close(r));
});

describe("launchChromium", () => {
  it("opens a page that runs its script", async () => {
    const tab = await browser.newPage();
    await tab.goto(origin(page));
    await tab.waitForFunction(() => document.getElementById("out")?.textContent === "script ran");
    await tab.close();
  });

  it("keeps the same-origin policy: a cross-origin read needs Access-Control-Allow-Origin", async () => {
    const tab = await browser.newPage();
    await tab.goto(origin(page));
    const read = (url: string) =>
      tab.evaluate((u) => fetch(u).then((r) => r.json().then((body) => `ok ${body.path}`), (e: Error) => `blocked ${e.name}`), url);
    expect(await read(`${origin(api)}/open`)).toBe("ok /open");
    expect(await read(`${origin(api)}/closed`)).toBe("blocked TypeError");
    await tab.close();
  });

  it("fails, naming what to install, when CHROMIUM_PATH points at no browser", async () => {
    const saved = process.env.CHROMIUM_PATH;
    process.env.CHROMIUM_PATH = "/nonexistent/chromium";
    try {
      const error = await launchChromium().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BrowserSetupError);
      expect(String(error)).toContain("/nonexistent/chromium");
      expect(String(error)).toContain("apt-get install chromium");
      expect(String(error)).toContain("npm install");
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM_PATH;
      else process.env.CHROMIUM_PATH = saved;
    }
  });
});
