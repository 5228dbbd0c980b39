// Streaming measurement: time to the first SSE event, gaps between events and total stream time,
// per request, over keep-alive node:http connections with `concurrency` streams in flight.
import http from "node:http";
import { summarize } from "./stats.mjs";

/** One streamed request; resolves with event arrival times (ms after the request started). */
function streamOnce(agent, url, target, body, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const headers = { ...target.headers, ...(target.sign ? target.sign() : {}), "content-length": String(body.length) };
    const events = [];
    let buffer = "";
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const req = http.request(url, { method: "POST", agent, headers, timeout: timeoutMs }, (res) => {
      const headersMs = performance.now() - t0;
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const at = performance.now() - t0;
        buffer += chunk;
        // An SSE event ends with a blank line; count the events carrying data, as a client would see them.
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (event.includes("data:")) events.push(at);
        }
      });
      res.on("end", () => finish({ status: res.statusCode, headersMs, events, totalMs: performance.now() - t0 }));
      res.on("error", () => finish({ status: res.statusCode, error: "response error", events, totalMs: performance.now() - t0 }));
    });
    req.on("timeout", () => { req.destroy(); finish({ status: 0, error: "timeout", events, totalMs: performance.now() - t0 }); });
    req.on("error", (error) => finish({ status: 0, error: error.code ?? error.message, events, totalMs: performance.now() - t0 }));
    req.end(body);
  });
}

/**
 * `count` streams, `concurrency` at a time, none started after `maxDurationMs`. Reports time to first event (TTFB of the stream),
 * inter-event gaps (all gaps of all streams pooled) and total time, for 2xx streams only.
 */
export async function streamRun(target, { count, concurrency, maxDurationMs = Infinity, timeoutMs = 10_000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(target.path, target.url);
  const body = Buffer.from(target.body);
  const ttfb = [];
  const headersAt = [];
  const gaps = [];
  const totals = [];
  const eventCounts = [];
  const statuses = {};
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && performance.now() - t0 < maxDurationMs) {
      next++;
      const r = await streamOnce(agent, url, target, body, timeoutMs);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.error || r.status < 200 || r.status >= 300 || r.events.length === 0) {
        errors++;
        continue;
      }
      ttfb.push(r.events[0]);
      headersAt.push(r.headersMs);
      for (let i = 1; i < r.events.length; i++) gaps.push(r.events[i] - r.events[i - 1]);
      totals.push(r.totalMs);
      eventCounts.push(r.events.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return {
    kind: "stream",
    count: next,
    concurrency,
    ok: totals.length,
    errors,
    statuses,
    elapsedMs: performance.now() - t0,
    eventsPerStream: summarize(eventCounts).p50,
    headersMs: summarize(headersAt),
    ttfbMs: summarize(ttfb),
    gapMs: summarize(gaps),
    totalMs: summarize(totals),
  };
}
