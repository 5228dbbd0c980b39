// Brings up everything an arm needs: the mock provider, the gateway bundle, the ledger database, the
// runtime host (bare Worker + gateway on workerd), the seeded credentials and the probed targets; with a
// baseline ref, that commit's gateway in its own runtime host too.
import { randomBytes } from "node:crypto";
import { armWanted, MOCK_API_KEY, targetsFor } from "./arms.mjs";
import { bundleGateway, startDatabaseHost, startMock, startRuntimeHost } from "./processes.mjs";
import { startBaseline } from "./baseline.mjs";
import { probe, seedGateway } from "./seed.mjs";
import { startNodeProxy, startPortkey } from "./peer/start.mjs";

/** The gateway's bindings beyond wrangler.toml: development mode, loopback upstreams, fresh secrets, the ledger. */
function gatewayBindings(adminToken, database) {
  return {
    ENVIRONMENT: "development",
    ALLOW_LOOPBACK_UPSTREAMS: "true",
    ADMIN_TOKEN: adminToken,
    MASTER_KEY: randomBytes(32).toString("base64"),
    MOCK_API_KEY,
    PROVIDER_SECRETS: "MOCK_API_KEY",
    ...(database ? { DATABASE_URL: database.databaseUrl, DB_WS_PROXY: database.wsProxy } : {}),
  };
}

/**
 * @param {{ gateway: boolean, arms: string[], split?: boolean, baseline?: string, inspectorPort?: number, stateInspectorPort?: number, portkeyInspectPort?: number, log: (line: string) => void }} options
 * `split` (default true) runs the gateway's Durable Objects and queue consumers in a second workerd
 * process (bench/runtime-host.mjs), so the Worker's own CPU is read apart from theirs.
 * `baseline` (a git ref) serves that commit's gateway too, for the `@base` arms (bench/baseline.mjs).
 * Problems (a failed bundle, seed or probe) are collected, not thrown: the arms that work still run.
 */
export async function startStack({ gateway, arms, split = true, baseline: baselineRef, inspectorPort, stateInspectorPort, portkeyInspectPort, log }) {
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
      stateInspectorPort,
      split,
      gatewayBindings: gatewayBindings(adminToken, database),
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
    // A previous commit's gateway beside the current one, with its own database, admin token and seed.
    let baseline = null;
    const baselineStart = Date.now();
    if (baselineRef && creds) {
      try {
        const token = `adm_${randomBytes(24).toString("base64url")}`;
        baseline = await startBaseline({ ref: baselineRef, mockUrl: mock.url, split, adminToken: token, bindings: (db) => gatewayBindings(token, db), log });
        stops.push(baseline.stop);
        problems.push(...baseline.notes);
      } catch (error) {
        problems.push(`Baseline ${baselineRef} not benchmarked: ${error.message}`);
      }
    } else if (baselineRef) problems.push(`Baseline ${baselineRef} not benchmarked: the current gateway did not start, so there is nothing to compare it with.`);
    const baselineSetupMs = Date.now() - baselineStart;
    // The peers on Node, each in its own process (its CPU is the arm's), only when their arm runs.
    const peers = {};
    const peer = async (name, start, what) => {
      try {
        peers[name] = await start();
        stops.push(peers[name].stop);
        log(`${what.padEnd(19)}${peers[name].url} (pid ${peers[name].pid})`);
      } catch (error) {
        problems.push(`${what} not benchmarked: it did not start. ${error.message}`);
      }
    };
    if (arms.includes("node_proxy")) await peer("nodeProxy", () => startNodeProxy(mock.url), "node:http proxy");
    if (arms.includes("portkey")) await peer("portkey", () => startPortkey({ nodeServer: "1.13.8", inspectPort: portkeyInspectPort }), "Portkey");
    if (arms.includes("portkey_installed")) await peer("portkeyInstalled", () => startPortkey({ nodeServer: "installed" }), "Portkey (installed)");
    const urls = { mock: mock.url, bare: host.bare.url, floor: host.floor.url, gateway: creds ? gatewayUrl : null, nodeProxy: peers.nodeProxy?.url, portkey: peers.portkey?.url, portkeyInstalled: peers.portkeyInstalled?.url, gatewayBase: baseline?.url };
    const targets = { json: targetsFor("json", urls, creds, baseline?.creds), stream: targetsFor("stream", urls, creds, baseline?.creds) };
    const failedArms = new Set();
    for (const kind of ["json", "stream"]) {
      for (const [arm, target] of Object.entries(targets[kind])) {
        if (!armWanted(arm, arms)) continue;
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
      peers,
      baseline: baseline?.meta ?? null,
      // Its worktree, bundle and seed take tens of seconds; the run's time budget leaves them out.
      baselineSetupMs,
      pids: {
        mock: mock.pid,
        bare: host.bare.pid,
        floor: host.floor.pid,
        gateway: host.gateway?.pid,
        gatewayState: host.gateway?.statePid,
        database: database?.pid,
        nodeProxy: peers.nodeProxy?.pid,
        portkey: peers.portkey?.pid,
        portkeyInstalled: peers.portkeyInstalled?.pid,
        gatewayBase: baseline?.pid,
        gatewayBaseState: baseline?.statePid,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
