// Load generators: closed loop (autocannon, with every latency kept at µs precision instead of its
// 1 ms histogram) and open loop at a fixed arrival rate (node:http), both with status and error counts.
import http from "node:http";
import autocannon from "autocannon";
import { summarize } from "./stats.mjs";

/**
 * @typedef {object} Target
 * @property {string} url      origin, e.g. http://127.0.0.1:8787
 * @property {string} path     e.g. /internal/v1/chat/completions
 * @property {Record<string, string>} headers  static headers (content-type included)
 * @property {string} body
 * @property {(() => Record<string, string>)=} sign  per-request headers (signatures), when needed
 */

function countStatus(counts, status) {
  counts[status] = (counts[status] ?? 0) + 1;
}

/** Closed loop: `connections` keep-alive connections, each sending its next request when the last answer ends. */
export async function closedLoop(target, { connections, amount, durationMs, maxDurationMs, timeoutS = 10 }) {
  const latencies = [];
  const statuses = {};
  const request = { method: "POST", path: target.path, headers: target.headers, body: target.body };
  if (target.sign) request.setupRequest = (req) => ({ ...req, headers: { ...req.headers, ...target.sign() } });
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: target.url,
    connections,
    // amount + maxDurationMs: whichever comes first (a slow arm must not stretch the whole run).
    ...(amount && maxDurationMs ? { maxOverallRequests: amount, duration: maxDurationMs / 1000 } : amount ? { amount } : { duration: durationMs / 1000 }),
    timeout: timeoutS,
    // autocannon only notices the end of a run on its sampling tick (1 s by default): a short tick
    // keeps `amount` runs from idling up to a second and duration runs from overrunning.
    sampleInt: 20,
    requests: [request],
    excludeErrorStats: false,
    renderProgressBar: false,
    renderLatencyTable: false,
    renderResultsTable: false,
  });
  let lastAnswer = started;
  instance.on("response", (_client, status, _bytes, ms) => {
    lastAnswer = process.hrtime.bigint();
    countStatus(statuses, status);
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const activeMs = Number(lastAnswer - started) / 1e6;
  const ok = latencies.length;
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    kind: "closed",
    connections,
    requests: total,
    ok,
    non2xx: total - ok,
    statuses,
    // autocannon counts a timeout as an error too.
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    elapsedMs,
    // From the first request to the last answer: the time the arm was actually under load.
    rps: activeMs > 0 ? (ok / activeMs) * 1000 : 0,
    latencyMs: summarize(latencies),
  };
}

/**
 * Open loop at `rate` req/s for `durationMs`: requests start on schedule whether or not earlier ones
 * finished (no coordinated omission). Latency is counted from the scheduled start. A request not
 * answered within `timeoutMs` is a timeout, which also bounds the run to duration + timeout.
 */
export async function openLoop(target, { rate, durationMs, timeoutMs = 2_000, maxConnections = 64 }) {
  // Capped like a client's connection pool: an overloaded arm gets a bounded backlog, not thousands.
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections });
  const url = new URL(target.path, target.url);
  const body = Buffer.from(target.body);
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const total = Math.round((rate * durationMs) / 1000);
  const t0 = performance.now();

  const fire = (scheduledAt) =>
    new Promise((resolve) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const headers = { ...target.headers, ...(target.sign ? target.sign() : {}), "content-length": String(body.length) };
      const req = http.request(url, { method: "POST", agent, headers, timeout: timeoutMs }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          countStatus(statuses, res.statusCode);
          if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - scheduledAt);
          done();
        });
        res.on("error", () => { if (!finished) errors++; done(); });
      });
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        inFlight--;
        resolve();
      };
      // Socket inactivity is not enough: a deadline from the scheduled start bounds the whole request.
      const deadline = setTimeout(() => { if (!finished) { timeouts++; req.destroy(); done(); } }, Math.max(1, scheduledAt + timeoutMs - performance.now()));
      req.on("close", () => clearTimeout(deadline));
      req.on("timeout", () => { if (!finished) timeouts++; req.destroy(); done(); });
      req.on("error", () => { if (!finished) errors++; done(); });
      req.end(body);
    });

  const pending = [];
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
      while (sent < due) {
        pending.push(fire(t0 + (sent * 1000) / rate));
        sent++;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  const ok = latencies.length;
  return {
    kind: "open",
    rate,
    requests: sent,
    ok,
    non2xx: Object.entries(statuses).filter(([s]) => Number(s) < 200 || Number(s) >= 300).reduce((a, [, n]) => a + n, 0),
    statuses,
    errors,
    timeouts,
    maxInFlight,
    elapsedMs,
    achievedRps: (ok / elapsedMs) * 1000,
    latencyMs: summarize(latencies),
  };
}
