// Starts the whole local stack: the mock LLM provider, the embedded Postgres (PGlite behind the
// WebSocket proxy the Neon driver needs, unless DATABASE_URL is set), `wrangler dev` on local
// workerd, then seeds a demo tenant, keys, a service token and an owner admin token through the admin API.
// Used by `npm start` (scripts/dev.mjs) and by the end-to-end tests.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startMockProvider } from "../test/mock-provider/server.mjs";
import { startPglite } from "./pglite-server.mjs";
import { startDbProxy } from "./db-proxy.mjs";
import { migrate } from "./db-migrate.mjs";
import { demoPresets } from "./demo-presets.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MOCK_UPSTREAM_KEY = "mock-upstream-key";

/**
 * @param {{ port?: number, adminToken?: string, stateDir?: string, log?: (line: string) => void, quiet?: boolean, vars?: Record<string, string> }} [options]
 *   `vars` are added to the gateway's settings (drills shorten the queue retry delays this way).
 */
export async function startDevStack(options = {}) {
  const port = options.port ?? 8787;
  const stateDir = path.resolve(ROOT, options.stateDir ?? ".dev");
  const log = options.log ?? ((line) => console.log(line));
  await mkdir(stateDir, { recursive: true });
  const stops = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
    stops.length = 0;
  };
  try {
    const mock = await startMockProvider({ port: 0, apiKey: MOCK_UPSTREAM_KEY });
    stops.push(() => mock.close());
    log(`mock provider   ${mock.url}`);

    const database = await startDatabase(stateDir, log);
    stops.push(database.close);

    const secrets = await loadOrCreateSecrets(stateDir, options.adminToken);
    const envFile = path.join(stateDir, "dev.env");
    const vars = {
      ENVIRONMENT: "development",
      ALLOW_LOOPBACK_UPSTREAMS: "true",
      ADMIN_TOKEN: secrets.adminToken,
      MASTER_KEY: secrets.masterKey,
      MOCK_API_KEY: MOCK_UPSTREAM_KEY,
      PROVIDER_SECRETS: "MOCK_API_KEY",
      DATABASE_URL: database.url,
      DB_WS_PROXY: database.wsProxy,
      ...options.vars,
    };
    await writeFile(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n", { mode: 0o600 });

    const wrangler = startWrangler(port, envFile, path.join(stateDir, "wrangler-state"), options.quiet ?? false);
    stops.push(wrangler.stop);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(baseUrl, wrangler);
    log(`gateway         ${baseUrl}`);

    const credentials = await seedDemo(baseUrl, secrets.adminToken, mock.url, stateDir);
    return { baseUrl, mockUrl: mock.url, credentials, databaseUrl: database.url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startDatabase(stateDir, log) {
  const proxy = await startDbProxy({ port: 0 });
  const wsProxy = `127.0.0.1:${proxy.port}`;
  if (process.env.DATABASE_URL) {
    await migrate(process.env.DATABASE_URL, { wsProxy });
    log(`database        ${redact(process.env.DATABASE_URL)} (DATABASE_URL)`);
    return { url: process.env.DATABASE_URL, wsProxy, close: () => proxy.close() };
  }
  const pglite = await startPglite({ dataDir: path.join(stateDir, "pglite") });
  const url = `postgres://postgres@127.0.0.1:${pglite.port}/postgres`;
  await migrate(url, { wsProxy });
  log(`database        PGlite (embedded) at 127.0.0.1:${pglite.port}, data in ${path.relative(ROOT, stateDir)}/pglite`);
  return { url, wsProxy, close: async () => { await proxy.close(); await pglite.close(); } };
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

async function loadOrCreateSecrets(stateDir, adminTokenOverride) {
  const file = path.join(stateDir, "secrets.json");
  let secrets;
  if (existsSync(file)) secrets = JSON.parse(await readFile(file, "utf8"));
  else {
    secrets = { adminToken: `adm_${randomBytes(24).toString("base64url")}`, masterKey: randomBytes(32).toString("base64") };
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  if (adminTokenOverride) secrets.adminToken = adminTokenOverride;
  return secrets;
}

function startWrangler(port, envFile, persistTo, quiet) {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
      "--env-file", envFile, "--persist-to", persistTo, "--show-interactive-dev-session=false", "--log-level", quiet ? "error" : "info"],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", quiet ? "ignore" : "inherit", quiet ? "pipe" : "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", FORCE_COLOR: "0" },
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  let exited = false;
  child.on("exit", () => (exited = true));
  return {
    get exited() { return exited; },
    get stderr() { return stderr; },
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        try { process.kill(-child.pid, "SIGTERM"); } catch { resolve(); }
        setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5_000).unref();
      }),
  };
}

async function waitForHealth(baseUrl, wrangler) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (wrangler.exited) throw new Error(`wrangler dev exited before it was ready:\n${wrangler.stderr}`);
    try {
      const res = await fetch(`${baseUrl}/health`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the gateway did not become healthy within 60 s");
}

async function admin(baseUrl, adminToken, method, route, body) {
  const res = await fetch(`${baseUrl}/admin/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`admin ${method} ${route} failed: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function withBaseUrl(credentials, baseUrl) {
  return {
    ...credentials,
    external: { ...credentials.external, base_url: `${baseUrl}/external/v1` },
    external_signed: { ...credentials.external_signed, base_url: `${baseUrl}/external/v1` },
    internal: { ...credentials.internal, base_url: `${baseUrl}/internal/v1` },
  };
}

/**
 * Seeds presets every start; the demo tenant, key, service token and a named owner admin token once (kept in
 * .dev/demo-credentials.json). ADMIN_TOKEN (the break-glass token, in .dev/secrets.json) only does the seeding:
 * `admin_token` is the minted owner token, so everyday use leaves break-glass records out of the audit trail.
 */
async function seedDemo(baseUrl, breakGlassToken, mockUrl, stateDir) {
  await admin(baseUrl, breakGlassToken, "PUT", "/presets", { items: demoPresets(mockUrl) });
  const file = path.join(stateDir, "demo-credentials.json");
  if (existsSync(file)) {
    // Reuse the saved demo identities when this gateway still knows them (same state dir); the URLs are
    // rewritten for this run's port.
    const saved = JSON.parse(await readFile(file, "utf8"));
    const reused = withBaseUrl(saved, baseUrl);
    const probe = await fetch(`${reused.external.base_url}/models`, { headers: { authorization: `Bearer ${reused.external.api_key}` } }).catch(() => null);
    const adminProbe = await fetch(`${baseUrl}/admin/v1/tokens?limit=1`, { headers: { authorization: `Bearer ${saved.admin_token}` } }).catch(() => null);
    if (probe?.ok && adminProbe?.ok) {
      await writeFile(file, JSON.stringify(reused, null, 2) + "\n", { mode: 0o600 });
      return reused;
    }
  }
  const call = (method, route, body) => admin(baseUrl, breakGlassToken, method, route, body);
  // The response cache on (tenant scope, 5 minutes): the README's curl, sent twice, shows a miss then a hit.
  const tenant = await call("POST", "/tenants", { name: "Demo tenant", cache: { enabled: true, ttl_s: 300, scope: "tenant" } });
  const key = await call("POST", `/tenants/${tenant.id}/keys`, { name: "demo key", signature: "optional" });
  const signedKey = await call("POST", `/tenants/${tenant.id}/keys`, { name: "demo signed key", signature: "required" });
  await call("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 100_000_000, idempotency_key: `demo-initial-${tenant.id}` });
  const service = await call("POST", "/services", { name: "demo service", operations: true });
  const owner = await call("POST", "/tokens", { name: "demo owner (npm start)", role: "owner" });
  const credentials = {
    external: { base_url: `${baseUrl}/external/v1`, api_key: key.key, tenant_id: tenant.id },
    external_signed: { base_url: `${baseUrl}/external/v1`, api_key: signedKey.key, signing_secret: signedKey.signing_secret },
    internal: { base_url: `${baseUrl}/internal/v1`, token: service.token },
    admin_token: owner.token,
    admin_token_id: owner.id,
  };
  await writeFile(file, JSON.stringify(credentials, null, 2) + "\n", { mode: 0o600 });
  return credentials;
}
