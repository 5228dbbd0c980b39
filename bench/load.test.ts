// The load generators against a real loopback server: status and error counting, the open loop's
// schedule and deadline, and SSE event timing.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedLoop, openLoop } from "./load.mjs";
import { streamRun } from "./stream-client.mjs";

let server: http.Server;
let url: string;
let seen = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen++;
      if (req.url === "/fail-every-4th" && seen % 4 === 0) return res.writeHead(503).end("no");
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 400);
      if (req.url === "/stream") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        let i = 0;
        const next = () => {
          if (i === 5) return res.end("data: [DONE]\n\n");
          res.write(`data: {"i":${i++}}\n\n`);
          setTimeout(next, 10);
        };
        return next();
      }
      res.end(JSON.stringify({ echo: body.length, sig: req.headers["x-sig"] ?? null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const target = (path: string, extra: object = {}) => ({ url, path, headers: { "content-type": "application/json" }, body: "{}", ...extra });

describe("closedLoop", () => {
  it("sends exactly `amount` requests and keeps sub-millisecond latencies", async () => {
    const r = await closedLoop(target("/ok"), { connections: 2, amount: 40 });
    expect(r).toMatchObject({ requests: 40, ok: 40, non2xx: 0, errors: 0, timeouts: 0 });
    expect(Number.isInteger(r.latencyMs.p50)).toBe(false);
    expect(r.rps).toBeGreaterThan(0);
  });

  it("counts non-2xx answers apart from the latency samples", async () => {
    seen = 0;
    const r = await closedLoop(target("/fail-every-4th"), { connections: 1, amount: 20 });
    expect(r.statuses).toEqual({ 200: 15, 503: 5 });
    expect(r).toMatchObject({ ok: 15, non2xx: 5 });
    expect(r.latencyMs.n).toBe(15);
  });

  it("stops at maxDurationMs when the arm is too slow to reach `amount`", async () => {
    const t0 = performance.now();
    const r = await closedLoop(target("/slow"), { connections: 1, amount: 100, maxDurationMs: 300 });
    expect(r.ok).toBeLessThanOrEqual(1);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it("calls the per-request signer for every request", async () => {
    let calls = 0;
    const r = await closedLoop(target("/ok", { sign: () => ({ "x-sig": String(++calls) }) }), { connections: 1, amount: 10 });
    expect(r.ok).toBe(10);
    expect(calls).toBeGreaterThanOrEqual(10);
  });
});

describe("openLoop", () => {
  it("keeps the schedule and measures from the scheduled start", async () => {
    const r = await openLoop(target("/ok"), { rate: 200, durationMs: 250 });
    expect(r.requests).toBe(50);
    expect(r.ok).toBe(50);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(240);
  });

  it("counts answers later than the deadline as timeouts and still ends on time", async () => {
    const t0 = performance.now();
    const r = await openLoop(target("/slow"), { rate: 50, durationMs: 100, timeoutMs: 150, maxConnections: 2 });
    expect(r.requests).toBe(5);
    expect(r.timeouts).toBe(5);
    expect(r.ok).toBe(0);
    expect(performance.now() - t0).toBeLessThan(400);
  });
});

describe("streamRun", () => {
  it("times the first event and the gaps between events", async () => {
    const r = await streamRun(target("/stream"), { count: 3, concurrency: 1 });
    expect(r).toMatchObject({ ok: 3, errors: 0, eventsPerStream: 6 });
    expect(r.ttfbMs.p50).toBeLessThan(r.totalMs.p50);
    expect(r.gapMs.p50).toBeGreaterThan(5);
    expect(r.totalMs.p50).toBeGreaterThan(40);
  });

  it("starts no stream after maxDurationMs", async () => {
    const r = await streamRun(target("/stream"), { count: 100, concurrency: 1, maxDurationMs: 120 });
    expect(r.count).toBeLessThan(5);
    expect(r.ok).toBe(r.count);
  });

  it("counts a failed stream as an error", async () => {
    const r = await streamRun({ ...target("/stream"), url: "http://127.0.0.1:1" }, { count: 2, concurrency: 1 });
    expect(r).toMatchObject({ ok: 0, errors: 2 });
  });
});
