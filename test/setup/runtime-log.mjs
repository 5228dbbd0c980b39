// Uncaught exceptions inside workerd, for the workers tests. An exception thrown outside any awaited
// promise (a timer, an event listener: a driver flushing onto a closed socket) reaches no test: workerd
// only logs it, and the workers pool prints that log from this process (the vitest main process). This
// watches what this process prints and serves, over loopback HTTP, the uncaught exceptions logged
// between two marks that a test writes to the same runtime log.
import http from "node:http";

const UNCAUGHT = "uncaught exception; source = Uncaught; stack = ";
const MARK = /runtime-log-mark:([A-Za-z0-9_-]+)/g;
const WAIT_FOR_MARK_MS = 15_000;

export async function startRuntimeLogWatch() {
  /** @type {Array<{ mark: string } | { uncaught: string }>} */
  const events = [];
  const waiters = new Set();

  function observe(text) {
    for (let at = text.indexOf(UNCAUGHT); at !== -1; at = text.indexOf(UNCAUGHT, at + 1)) {
      // The message and the first frames of its stack (one write per log entry).
      events.push({ uncaught: text.slice(at + UNCAUGHT.length).split("\n").slice(0, 4).join("\n").trim() });
    }
    const marks = [...text.matchAll(MARK)];
    for (const m of marks) events.push({ mark: m[1] });
    if (marks.length > 0) for (const wake of waiters) wake();
  }

  const restore = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write;
    stream.write = function (chunk, ...rest) {
      try {
        observe(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      } catch {}
      return write.call(this, chunk, ...rest);
    };
    return () => (stream.write = write);
  });

  const markAt = (id) => events.findIndex((e) => "mark" in e && e.mark === id);
  async function untilMark(id) {
    const deadline = Date.now() + WAIT_FOR_MARK_MS;
    while (markAt(id) === -1) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => {
        const wake = () => {
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, deadline - Date.now());
        waiters.add(wake);
      });
    }
    // The runtime writes to two pipes; let every read of this poll round be observed before answering.
    await new Promise((resolve) => setImmediate(resolve));
    return true;
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const begin = url.searchParams.get("begin") ?? "";
    const end = url.searchParams.get("end") ?? "";
    if (url.pathname !== "/uncaught" || !begin || !end) return res.writeHead(404).end();
    if (!(await untilMark(end))) {
      res.writeHead(504, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: `mark ${end} never reached the runtime log` }));
    }
    const from = markAt(begin);
    if (from === -1) {
      res.writeHead(409, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: `mark ${begin} is not in the runtime log` }));
    }
    const between = events.slice(from + 1, markAt(end)).flatMap((e) => ("uncaught" in e ? [e.uncaught] : []));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ uncaught: between }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const undo of restore) undo();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
