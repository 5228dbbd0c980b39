// `node bench/peer/node-proxy.mjs --upstream http://127.0.0.1:N`: the benchmark's bare node:http
// reverse proxy, the least a proxy costs on Node (the runtime Portkey runs on): it pipes the request
// to the upstream over a keep-alive pool and pipes the answer back, streams included, without reading
// either body. Loopback only. Prints "listening on http://127.0.0.1:<port>" when ready.
import http from "node:http";

const at = process.argv.indexOf("--upstream");
const upstream = new URL(at >= 0 ? process.argv[at + 1] : "");
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
// Hop-by-hop headers are the connection's own (RFC 9110 §7.6.1): not forwarded.
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"]);

function forwardable(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer({ keepAlive: true }, (req, res) => {
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: forwardable(req.headers), agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      answer.pipe(res);
    },
  );
  out.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`upstream error: ${error.code ?? error.message}`);
  });
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
