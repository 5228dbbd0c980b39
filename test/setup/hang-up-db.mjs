// A database endpoint that accepts the Neon driver's WebSocket and hangs up at once: the handshake and a
// Close frame leave in one write. That is what a client meets when the database, or the proxy in front of
// it, goes away; unlike a refused connect behind the real proxy (which closes a moment later), it always
// arrives before the driver has flushed its first write.
import { createHash } from "node:crypto";
import http from "node:http";

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// FIN + Close opcode, 2-byte payload: status 1011 (the server met an unexpected condition).
const CLOSE_FRAME = Buffer.from([0x88, 0x02, 0x03, 0xf3]);

export async function startHangUpDb() {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  // An upgraded socket leaves the HTTP server's bookkeeping but still holds server.close() open until it
  // is gone, and the client need not close its half: so they are destroyed on close.
  const sockets = new Set();
  server.on("upgrade", (req, socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"] ?? ""}${WS_GUID}`).digest("base64");
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
    socket.on("error", () => {});
    socket.end(Buffer.concat([Buffer.from(head), CLOSE_FRAME]));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    /** `host:port` as DB_WS_PROXY expects it. */
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
