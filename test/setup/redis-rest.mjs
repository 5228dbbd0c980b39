// Upstash-REST-compatible adapter over a local redis-server, so @upstash/redis can be tested for real.
// Speaks RESP2 to redis over one node:net connection (replies arrive in request order).
import http from "node:http";
import net from "node:net";
import { randomBytes } from "node:crypto";

class RespError extends Error {}
const SIMPLE = Symbol("simple"); // simple-string replies, told apart from bulk strings for the encoding rules

function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(`$${bytes.length}\r\n`, bytes, "\r\n");
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf, offset) {
  const eol = buf.indexOf("\r\n", offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString("utf8", offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return { value: { [SIMPLE]: line }, next };
    case "-":
      return { value: new RespError(line), next };
    case ":":
      return { value: Number(line), next };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return undefined;
      return { value: buf.subarray(next, next + n), next: next + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** A minimal RESP client: `send(commands)` writes them in one go and resolves with their replies. */
export function createRespClient({ host = "127.0.0.1", port = 6379, connectTimeoutMs = 1_000 } = {}) {
  let socket;
  let ready;
  let buffer = Buffer.alloc(0);
  const waiting = [];
  const failAll = (error) => {
    for (const w of waiting.splice(0)) w.reject(error);
    socket = undefined;
    ready = undefined;
  };
  const open = () => {
    ready ??= new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => s.destroy(new Error(`redis ${host}:${port} did not answer`)), connectTimeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        socket = s;
        resolve(s);
      });
      s.on("data", (chunk) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        let offset = 0;
        for (let reply; waiting.length > 0 && (reply = parseReply(buffer, offset)); offset = reply.next) {
          waiting.shift().resolve(reply.value);
        }
        buffer = buffer.subarray(offset);
      });
      s.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
        failAll(error);
      });
      s.on("close", () => failAll(new Error("redis connection closed")));
    });
    return ready;
  };
  return {
    async send(commands) {
      const s = await open();
      const replies = commands.map(() => new Promise((resolve, reject) => waiting.push({ resolve, reject })));
      s.write(Buffer.concat(commands.map(encodeCommand)));
      return Promise.all(replies);
    },
    close() {
      socket?.destroy();
    },
  };
}

// Commands that would hurt a redis-server shared with other runs, or block the shared connection.
const REFUSED = new Set(
  "flushall flushdb shutdown config debug select swapdb monitor subscribe psubscribe ssubscribe client replicaof slaveof save bgsave bgrewriteaof module acl migrate wait blpop brpop brpoplpush blmove blmpop bzpopmin bzpopmax bzmpop".split(" "),
);

/** Upstash's wire format: with base64 encoding every string reply is base64 except the simple "OK". */
function toWire(value, base64) {
  if (value === null || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((v) => toWire(v, base64));
  if (value instanceof RespError) return null;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  const text = value[SIMPLE];
  return base64 && text !== "OK" ? Buffer.from(text).toString("base64") : text;
}

const asEntry = (reply, base64) => (reply instanceof RespError ? { error: reply.message } : { result: toWire(reply, base64) });

function toArgs(command) {
  if (!Array.isArray(command) || command.length === 0) throw new RespError("ERR a command is a non-empty JSON array");
  const name = String(command[0]).toLowerCase();
  if (REFUSED.has(name)) throw new RespError(`ERR command ${name} is not allowed by the test adapter`);
  return command.map((a) => (a !== null && typeof a === "object" ? JSON.stringify(a) : String(a)));
}

async function handle(redis, path, body, base64) {
  if (path === "/") {
    const [reply] = await redis.send([toArgs(body)]);
    return reply instanceof RespError ? [400, { error: reply.message }] : [200, { result: toWire(reply, base64) }];
  }
  if (!Array.isArray(body)) throw new RespError("ERR expected a JSON array of commands");
  const commands = body.map(toArgs);
  if (path === "/pipeline") {
    const replies = await redis.send(commands);
    return [200, replies.map((r) => asEntry(r, base64))];
  }
  if (path === "/multi-exec") {
    const replies = await redis.send([["MULTI"], ...commands, ["EXEC"]]);
    const exec = replies.at(-1);
    if (exec instanceof RespError) return [400, { error: exec.message }];
    if (exec === null) return [400, { error: "EXECABORT transaction aborted" }];
    return [200, exec.map((r) => asEntry(r, base64))];
  }
  return [404, { error: `unknown endpoint ${path}` }];
}

const fromEnv = process.env.GW_TEST_REDIS_URL ? new URL(process.env.GW_TEST_REDIS_URL) : undefined;

/**
 * Starts the adapter when a redis-server answers; null (and one printed line) otherwise, so the
 * Redis suites can report that they did not run. GW_TEST_REDIS_URL (redis://host:port) moves it.
 */
export async function startRedisRest({
  redisHost = fromEnv?.hostname ?? "127.0.0.1",
  redisPort = Number(fromEnv?.port || 6379),
  port = 0,
  token = randomBytes(16).toString("hex"),
  log = (line) => console.log(line),
} = {}) {
  const redis = createRespClient({ host: redisHost, port: redisPort, connectTimeoutMs: 500 });
  try {
    await redis.send([["PING"]]);
  } catch {
    redis.close();
    log(`[test-redis] no redis-server answered on ${redisHost}:${redisPort}: Redis suites will not run`);
    return null;
  }
  const server = http.createServer((req, res) => {
    const reply = (status, payload) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { error: "Unauthorized" });
    if (req.method !== "POST") return reply(405, { error: "use POST" });
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
        const [status, payload] = await handle(redis, new URL(req.url ?? "/", "http://x").pathname, body, base64);
        reply(status, payload);
      } catch (error) {
        reply(error instanceof RespError || error instanceof SyntaxError ? 400 : 500, { error: error.message });
      }
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  log(`[test-redis] Upstash REST adapter on ${url} in front of redis-server ${redisHost}:${redisPort}`);
  return {
    url,
    token,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      redis.close();
    },
  };
}
