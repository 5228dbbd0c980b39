// WebSocket-to-TCP proxy in the Neon driver's local-development protocol (`ws://proxy/v1?address=host:port`),
// so the Neon Pool inside workerd (or Node) can reach a loopback Postgres or PGlite server.
import http from "node:http";
import net from "node:net";
import { pathToFileURL } from "node:url";
import { WebSocketServer } from "ws";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const PAUSE_ABOVE_BYTES = 1 << 20;

/** Only loopback targets: the proxy must never become a way out of the machine. */
export function loopbackTarget(address) {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address ?? "");
  if (!match) return undefined;
  const host = (match[1] ?? match[2] ?? "").toLowerCase();
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (host === "localhost") return { host: "127.0.0.1", port };
  if (host === "::1") return { host, port };
  if (net.isIPv4(host) && host.startsWith("127.")) return { host, port };
  return undefined;
}

/**
 * Follows the frontend message stream to notice a Terminate ('X') message. PGlite does not close
 * the socket on Terminate and the workerd client never closes its WebSocket, so without this every
 * connection would stay open until PGlite answers "Too many connections".
 */
export function terminateWatcher() {
  let untyped = true; // the first messages (SSLRequest, StartupMessage, CancelRequest) carry no type byte
  let pending = Buffer.alloc(0); // an incomplete message header
  let skip = 0; // body bytes of the current message still to come (large Binds are not buffered)
  let lost = false;
  return function sawTerminate(chunk) {
    if (lost) return false;
    let data = chunk;
    if (skip > 0) {
      const n = Math.min(skip, data.length);
      skip -= n;
      data = data.subarray(n);
    }
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    while (pending.length > 0) {
      const headerBytes = untyped ? 8 : 5;
      if (pending.length < headerBytes) return false;
      let total;
      if (untyped) {
        total = pending.readInt32BE(0);
        const code = pending.readInt32BE(4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) untyped = false;
      } else {
        if (pending[0] === 0x58 /* X */) return true;
        total = 1 + pending.readInt32BE(1);
      }
      if (total < headerBytes) {
        lost = true; // not a Postgres stream we understand: forward it untouched
        return false;
      }
      if (pending.length < total) {
        skip = total - pending.length;
        pending = Buffer.alloc(0);
        return false;
      }
      pending = pending.subarray(total);
    }
    return false;
  };
}

function bridge(ws, target, onClose) {
  const tcp = net.connect(target.port, target.host);
  tcp.setNoDelay(true);
  const sawTerminate = terminateWatcher();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    tcp.destroy();
    ws.close();
    onClose();
  };
  const early = [];
  tcp.on("connect", () => {
    for (const chunk of early.splice(0)) tcp.write(chunk);
  });
  ws.on("message", (data) => {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    if (tcp.connecting) early.push(chunk);
    else tcp.write(chunk);
    if (sawTerminate(chunk)) {
      tcp.end();
      ws.close();
    }
  });
  tcp.on("data", (chunk) => {
    ws.send(chunk, () => {
      if (tcp.isPaused() && ws.bufferedAmount < PAUSE_ABOVE_BYTES) tcp.resume();
    });
    if (ws.bufferedAmount >= PAUSE_ABOVE_BYTES) tcp.pause();
  });
  tcp.on("close", close);
  tcp.on("error", close);
  ws.on("close", close);
  ws.on("error", close);
  return close;
}

/** Starts the proxy on 127.0.0.1; `port: 0` picks a free port. */
export async function startDbProxy({ port = 0, host = "127.0.0.1" } = {}) {
  const open = new Set();
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required\n");
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const address = new URL(req.url ?? "/", "http://proxy").searchParams.get("address");
    const target = loopbackTarget(address);
    if (!target) {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const close = bridge(ws, target, () => open.delete(close));
      open.add(close);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  return {
    port: actualPort,
    /** `host:port` as DB_WS_PROXY expects it. */
    address: `${host}:${actualPort}`,
    connections: () => open.size,
    close: async () => {
      for (const close of [...open]) close();
      wss.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const portArg = process.argv.find((a) => a.startsWith("--port="))?.split("=")[1];
  const proxy = await startDbProxy({ port: Number(portArg ?? process.env.DB_PROXY_PORT ?? 5488) });
  console.log(`db-proxy: ws://${proxy.address}/v1?address=<loopback host:port> (DB_WS_PROXY=${proxy.address})`);
  const stop = () => proxy.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
