// Mock LLM provider on loopback: OpenAI, Anthropic and Azure OpenAI wire formats, per-scenario faults, control API.
import http from "node:http";
import { pathToFileURL } from "node:url";
import { anthropicError, anthropicModels, countMessageTokens, renderMessages } from "./anthropic.mjs";
import { Line, deliver, sendJson } from "./faults.mjs";
import { openaiError, openaiModel, openaiModels, renderChat, renderEmbeddings } from "./openai.mjs";
import { SCENARIO_NAME, ScenarioStore, parseSettings } from "./scenarios.mjs";

const MAX_BODY = 64 * 1024 * 1024;
const OPENAI_MODELS = openaiModels();
const ANTHROPIC_MODELS = anthropicModels();
const AZURE_DENIED = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";

/** @typedef {{ dialect: "openai" | "azure" | "anthropic", op: "chat" | "embeddings" | "messages" | "count_tokens" | "models" | "model", deployment: string }} Route */

/**
 * @param {{ port?: number, host?: string, apiKey?: string }} [options]
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
export async function startMockProvider({ port = 0, host = "127.0.0.1", apiKey = "mock-upstream-key" } = {}) {
  const store = new ScenarioStore();
  const server = http.createServer((req, res) => {
    handle(req, res, store, apiKey).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, {}, openaiError(500, `mock provider bug: ${err?.message ?? err}`));
      else res.destroy();
    });
  });
  // Long keep-alive so load tests and pooled clients reuse sockets instead of racing our idle close.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve(undefined));
      // Hanging, endless and keep-alive connections would otherwise hold close() open forever.
      server.closeAllConnections();
    }),
  };
}

/** @param {http.IncomingMessage} req @returns {Promise<string | null>} null when over MAX_BODY */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const parts = [];
    let size = 0;
    req.on("data", (/** @type {Buffer} */ b) => {
      size += b.length;
      if (size <= MAX_BODY) parts.push(b);
    });
    req.on("end", () => resolve(size > MAX_BODY ? null : parts.length === 1 ? /** @type {Buffer} */ (parts[0]).toString() : Buffer.concat(parts).toString()));
    req.on("error", reject);
  });
}

/**
 * @param {http.IncomingMessage} req @param {http.ServerResponse} res
 * @param {ScenarioStore} store @param {string} apiKey
 */
async function handle(req, res, store, apiKey) {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const pathname = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? "" : url.slice(q + 1);
  if (pathname.startsWith("/__mock/")) return control(req, res, store, pathname);

  let name = "default";
  let path = pathname;
  if (pathname.startsWith("/s/")) {
    const end = pathname.indexOf("/", 3);
    name = end < 0 ? pathname.slice(3) : pathname.slice(3, end);
    path = end < 0 ? "/" : pathname.slice(end);
    if (!SCENARIO_NAME.test(name)) return sendJson(res, 404, {}, openaiError(404, `Invalid scenario name "${name}"`));
  }
  const raw = await readBody(req);
  if (raw === null) return sendJson(res, 413, {}, openaiError(413, "Request body too large for the mock provider."));
  const scenario = store.get(name);
  const n = scenario.record({ method: req.method ?? "GET", path: pathname, query, headers: req.headers, body: raw });
  // A client (the gateway) that hangs up before the answer is complete: shows that cancellation reached the upstream.
  res.on("close", () => {
    if (!res.writableFinished) scenario.disconnects++;
  });
  const s = scenario.settings;
  const id = `mock-${name}-${n}`;

  if (s.latency_ms > 0) {
    const line = new Line(res);
    await line.sleep(s.latency_ms);
    if (line.closed) return;
  }
  // Never answers: the client's timeout, its disconnect or close() ends the socket.
  if (s.fault === "hang") return;

  const route = matchRoute(req.method ?? "GET", path, req.headers);
  /** @type {Record<string, string | number>} */
  const headers = route?.dialect === "anthropic" ? { "request-id": id } : { "x-request-id": id };
  if (!route) return sendJson(res, 404, headers, openaiError(404, `Invalid URL (${req.method} ${path})`));
  const denied = checkAccess(route, req.headers, query, apiKey);
  if (denied) return sendJson(res, denied.status, headers, denied.body);

  if (scenario.shouldFail()) {
    const status = s.status ?? 503;
    const message = s.error_message ?? defaultMessage(status);
    if (s.retry_after !== undefined) headers["retry-after"] = String(s.retry_after);
    const body = route.dialect === "anthropic" ? anthropicError(status, message) : openaiError(status, message, { azure: route.dialect === "azure" });
    return sendJson(res, status, headers, body);
  }

  if (route.op === "models") return sendJson(res, 200, headers, route.dialect === "anthropic" ? ANTHROPIC_MODELS : OPENAI_MODELS);
  if (route.op === "model") {
    const model = openaiModel(route.deployment);
    return model ? sendJson(res, 200, headers, model) : sendJson(res, 404, headers, openaiError(404, `The model '${route.deployment}' does not exist`, { code: "model_not_found" }));
  }

  if (route.op === "count_tokens") {
    const counted = countMessageTokens(raw);
    return sendJson(res, counted.status, headers, counted.body);
  }

  const rendered = scenario.cached(`${route.dialect}|${route.op}|${route.deployment}|${raw}`, () => render(route, raw, s));
  if ("error" in rendered) return sendJson(res, rendered.status, headers, rendered.error);
  return deliver(res, rendered, id, s, headers);
}

/** @param {Route} route @param {string} raw @param {Record<string, any>} settings */
function render(route, raw, settings) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    const message = "We could not parse the JSON body of your request. The API expects a JSON payload, but what was sent was not valid JSON.";
    return { status: 400, error: route.dialect === "anthropic" ? anthropicError(400, message) : openaiError(400, message, { azure: route.dialect === "azure" }) };
  }
  const r = { azure: route.dialect === "azure", deployment: route.deployment };
  if (route.op === "messages") return renderMessages(body, settings);
  if (route.op === "embeddings") return renderEmbeddings(body, r, settings);
  return renderChat(body, r, settings);
}

const AZURE_PREFIX = "/openai/deployments/";

/** @param {string} method @param {string} path @param {http.IncomingHttpHeaders} headers @returns {Route | null} */
function matchRoute(method, path, headers) {
  if (method === "POST") {
    if (path === "/v1/chat/completions") return { dialect: "openai", op: "chat", deployment: "" };
    if (path === "/v1/messages") return { dialect: "anthropic", op: "messages", deployment: "" };
    if (path === "/v1/messages/count_tokens") return { dialect: "anthropic", op: "count_tokens", deployment: "" };
    if (path === "/v1/embeddings") return { dialect: "openai", op: "embeddings", deployment: "" };
    if (path.startsWith(AZURE_PREFIX)) {
      const rest = path.slice(AZURE_PREFIX.length);
      const slash = rest.indexOf("/");
      const deployment = decodeURIComponent(rest.slice(0, slash));
      const tail = rest.slice(slash);
      if (slash > 0 && tail === "/chat/completions") return { dialect: "azure", op: "chat", deployment };
      if (slash > 0 && tail === "/embeddings") return { dialect: "azure", op: "embeddings", deployment };
    }
    return null;
  }
  if (method !== "GET") return null;
  // Both providers serve GET /v1/models; Anthropic clients are the ones sending anthropic-version.
  if (path === "/v1/models") return { dialect: headers["anthropic-version"] ? "anthropic" : "openai", op: "models", deployment: "" };
  if (path.startsWith("/v1/models/")) return { dialect: "openai", op: "model", deployment: decodeURIComponent(path.slice(11)) };
  return null;
}

/**
 * Each provider's credential header, and the version each one insists on.
 * @param {Route} route @param {http.IncomingHttpHeaders} h @param {string} query @param {string} apiKey
 * @returns {{ status: number, body: string } | null}
 */
function checkAccess(route, h, query, apiKey) {
  if (route.dialect === "anthropic") {
    const key = h["x-api-key"];
    if (!key) return { status: 401, body: anthropicError(401, "x-api-key header is required") };
    if (key !== apiKey) return { status: 401, body: anthropicError(401, "invalid x-api-key") };
    if (!h["anthropic-version"]) return { status: 400, body: anthropicError(400, "anthropic-version: header is required") };
    return null;
  }
  if (route.dialect === "azure") {
    if (h["api-key"] !== apiKey) return { status: 401, body: openaiError(401, AZURE_DENIED, { azure: true }) };
    if (!new URLSearchParams(query).get("api-version")) {
      return { status: 400, body: openaiError(400, "The api-version query parameter (?api-version=) is required for all requests.", { azure: true, code: "MissingApiVersionParameter" }) };
    }
    return null;
  }
  const auth = h.authorization;
  if (!auth || !auth.startsWith("Bearer ") || auth.length <= 7) {
    const message = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
    return { status: 401, body: openaiError(401, message, { code: null }) };
  }
  const key = auth.slice(7);
  if (key !== apiKey) {
    const shown = key.length > 8 ? `${key.slice(0, 3)}${"*".repeat(key.length - 7)}${key.slice(-4)}` : "****";
    return { status: 401, body: openaiError(401, `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`) };
  }
  return null;
}

/** @param {number} status */
function defaultMessage(status) {
  switch (status) {
    case 429: return "Rate limit reached for requests. Please try again later.";
    case 500: return "The server had an error while processing your request. Sorry about that!";
    case 502: return "Bad gateway.";
    case 503: return "The server is overloaded or not ready yet.";
    case 529: return "Overloaded";
    default: return `Mock provider error ${status}.`;
  }
}

/**
 * Control API: loopback only, no auth. Scenario settings replace on PUT; DELETE resets settings and log.
 * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {ScenarioStore} store @param {string} pathname
 */
async function control(req, res, store, pathname) {
  const raw = await readBody(req);
  const remote = req.socket.remoteAddress ?? "";
  if (!(remote.startsWith("127.") || remote === "::1" || remote.startsWith("::ffff:127."))) {
    return sendJson(res, 403, {}, JSON.stringify({ error: "the control API answers loopback clients only" }));
  }
  if (pathname === "/__mock/health" && req.method === "GET") return sendJson(res, 200, {}, JSON.stringify({ ok: true, scenarios: store.byName.size }));
  const m = /^\/__mock\/scenarios\/([^/]+)(\/requests)?$/.exec(pathname);
  const name = m ? decodeURIComponent(/** @type {string} */ (m[1])) : "";
  if (!m || !SCENARIO_NAME.test(name)) return sendJson(res, 404, {}, JSON.stringify({ error: `no control route ${req.method} ${pathname}` }));
  const scenario = store.get(name);
  if (m[2]) {
    if (req.method === "GET") return sendJson(res, 200, {}, JSON.stringify(scenario.requests()));
  } else if (req.method === "PUT") {
    let input;
    try {
      input = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 400, {}, JSON.stringify({ error: "settings must be JSON" }));
    }
    const parsed = parseSettings(input);
    if (!parsed.ok) return sendJson(res, 400, {}, JSON.stringify({ error: parsed.error }));
    scenario.configure(parsed.settings);
    return sendJson(res, 200, {}, JSON.stringify({ name, settings: scenario.settings }));
  } else if (req.method === "GET") {
    return sendJson(res, 200, {}, JSON.stringify({ name, settings: scenario.settings, count: scenario.count }));
  } else if (req.method === "DELETE") {
    scenario.reset();
    return sendJson(res, 200, {}, JSON.stringify({ name, settings: scenario.settings, count: 0 }));
  }
  return sendJson(res, 405, {}, JSON.stringify({ error: `method ${req.method} not allowed on ${pathname}` }));
}

/** @param {string[]} argv @param {string} flag */
function arg(argv, flag) {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const mock = await startMockProvider({
    port: Number(arg(argv, "--port") ?? 9100),
    host: arg(argv, "--host") ?? "127.0.0.1",
    apiKey: arg(argv, "--api-key") ?? "mock-upstream-key",
  });
  console.log(`mock provider listening on ${mock.url}`);
  const stop = () => mock.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
