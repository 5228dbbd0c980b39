// Brings up everything an arm needs: the mock provider, the gateway bundle, the ledger database, the
// runtime host (bare Worker + gateway on workerd), the seeded credentials and the probed targets.
import { randomBytes } from "node:crypto";
import { MOCK_API_KEY, targetsFor } from "./arms.mjs";
import { bundleGateway, startDatabaseHost, startMock, startRuntimeHost } from "./processes.mjs";
import { probe, seedGateway } from "./seed.mjs";

/**
 * @param {{ gateway: boolean, arms: string[], split?: boolean, inspectorPort?: number, log: (line: string) => void }} options
 * `split` (default true) runs the gateway's Durable Objects and queue consumers in a second workerd
 * process (bench/runtime-host.mjs), so the Worker's own CPU is read apart from theirs.
 * Problems (a failed bundle, seed or probe) are collected, not thrown: the arms that work still run.
 */
export async function startStack({ gateway, arms, split = true, inspectorPort, log }) {
  const problems = [];
  const stops = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
    stops.length = 0;
  };
  try {
    const mock = await startMock(MOCK_API_KEY);
    stops.push(mock.stop);
    log(`mock provider      ${mock.url} (pid ${mock.pid})`);

    let bundle = null;
    if (gateway) {
      log("bundling the gateway (wrangler deploy --dry-run)...");
      bundle = await bundleGateway();
      if (!bundle.ok) {
        problems.push(`Gateway not benchmarked: the bundle failed. ${bundle.error}`);
        bundle = null;
      } else stops.push(bundle.cleanup);
    }
    // The queue consumers write the ledger; without a database they would retry every message.
    let database = null;
    if (bundle) {
      database = await startDatabaseHost();
      stops.push(database.stop);
      log(`ledger database    ${database.engine} via ${database.wsProxy} (pid ${database.pid})`);
    }
    const adminToken = `adm_${randomBytes(24).toString("base64url")}`;
    const host = await startRuntimeHost({
      mockUrl: mock.url,
      bundlePath: bundle?.bundlePath ?? null,
      inspectorPort,
      split,
      gatewayBindings: {
        ENVIRONMENT: "development",
        ALLOW_LOOPBACK_UPSTREAMS: "true",
        ADMIN_TOKEN: adminToken,
        MASTER_KEY: randomBytes(32).toString("base64"),
        MOCK_API_KEY,
        ...(database ? { DATABASE_URL: database.databaseUrl, DB_WS_PROXY: database.wsProxy } : {}),
      },
    });
    stops.push(host.stop);
    log(`bare worker        ${host.bare.url} (workerd pid ${host.bare.pid})`);
    log(`floor worker       ${host.floor.url} (workerd pid ${host.floor.pid})`);
    if (host.gateway?.error) problems.push(`Gateway not benchmarked: it did not start on workerd. ${host.gateway.error}`);
    else if (host.gateway) log(`gateway            ${host.gateway.url} (workerd pid ${host.gateway.pid}${host.gateway.statePid ? `; Durable Objects and queue consumers in workerd pid ${host.gateway.statePid}` : ""})`);

    const gatewayUrl = host.gateway?.url;
    let creds = null;
    if (gatewayUrl) {
      try {
        creds = await seedGateway(gatewayUrl, adminToken, mock.url);
      } catch (error) {
        problems.push(`Gateway arms skipped: seeding through the admin API failed. ${error.message}`);
      }
    }
    const urls = { mock: mock.url, bare: host.bare.url, floor: host.floor.url, gateway: creds ? gatewayUrl : null };
    const targets = { json: targetsFor("json", urls, creds), stream: targetsFor("stream", urls, creds) };
    const failedArms = new Set();
    for (const kind of ["json", "stream"]) {
      for (const [arm, target] of Object.entries(targets[kind])) {
        if (!arms.includes(arm) && !arm.endsWith("_anthropic")) continue;
        const result = await probe(target);
        if (!result.ok) {
          failedArms.add(arm);
          problems.push(`Arm ${arm} (${kind}) skipped: POST ${target.path} answered ${result.status}: ${result.body}`);
        }
      }
    }
    return {
      mock,
      host,
      database,
      bundlePath: bundle?.bundlePath ?? null,
      creds,
      adminToken,
      targets,
      failedArms,
      problems,
      pids: { mock: mock.pid, bare: host.bare.pid, floor: host.floor.pid, gateway: host.gateway?.pid, gatewayState: host.gateway?.statePid, database: database?.pid },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
