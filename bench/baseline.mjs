// `npm run bench -- --baseline <ref>`: a previous commit of the gateway as extra arms in the same run.
// Its tree is checked out as a git worktree in a temp dir (this tree's node_modules symlinked into it),
// bundled as the current gateway is, served by a runtime host of its own (the same split Worker and
// state processes), with a ledger database migrated by its own migrations and seeded through its own
// admin API by its own bench/seed.mjs. The worktree is removed when the run ends, or is interrupted.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { bundleGateway, onKill, ROOT, startDatabaseHost, startRuntimeHost } from "./processes.mjs";
import { seedGateway } from "./seed.mjs";

function git(...args) {
  const r = spawnSync("git", ["-C", ROOT, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/** The commit a ref names, its short id and subject; throws on a ref git does not know. */
export function resolveRef(ref) {
  const commit = git("rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`);
  const [short, subject] = git("log", "-1", "--format=%h%x00%s", commit).split("\0");
  return { ref, commit, short, subject };
}

/** A detached worktree of `commit` in a temp dir, with this tree's node_modules linked in. */
function checkout(commit) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gateway-bench-baseline-"));
  const tree = path.join(dir, "tree");
  const remove = () => {
    spawnSync("git", ["-C", ROOT, "worktree", "remove", "--force", tree], { encoding: "utf8" });
    rmSync(dir, { recursive: true, force: true });
    spawnSync("git", ["-C", ROOT, "worktree", "prune"], { encoding: "utf8" });
  };
  const unregister = onKill(remove);
  try {
    git("worktree", "add", "--detach", tree, commit);
    symlinkSync(realpathSync(path.join(ROOT, "node_modules")), path.join(tree, "node_modules"), "dir");
  } catch (error) {
    remove();
    unregister();
    throw error;
  }
  return { tree, remove: () => (unregister(), remove()) };
}

/** Whether the baseline's dependencies differ from the node_modules it is built and run with. */
function lockDiffers(tree) {
  const read = (root) => (existsSync(path.join(root, "package-lock.json")) ? readFileSync(path.join(root, "package-lock.json"), "utf8") : null);
  return read(tree) !== read(ROOT);
}

/** The baseline's own seed (its admin API may differ from this tree's); this tree's when it has none. */
async function seedFor(tree) {
  const own = path.join(tree, "bench/seed.mjs");
  return existsSync(own) ? (await import(pathToFileURL(own).href)).seedGateway : seedGateway;
}

/**
 * Starts the baseline gateway. `bindings(database)` gives the gateway bindings (admin token, keys,
 * database) as for the current gateway. Returns its URL, pids, seeded credentials, notes for the report
 * and `stop` (which also removes the worktree); throws (after cleaning up) when any part fails.
 */
export async function startBaseline({ ref, mockUrl, split, bindings, adminToken, log }) {
  const meta = resolveRef(ref);
  const stops = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
    stops.length = 0;
  };
  try {
    log(`baseline ${meta.short} (${ref}): git worktree, bundle...`);
    const { tree, remove } = checkout(meta.commit);
    stops.push(async () => remove());
    const notes = lockDiffers(tree) ? [`The baseline ${meta.short}'s package-lock.json differs from this tree's: it was bundled and run with this tree's node_modules.`] : [];
    const bundle = await bundleGateway({ root: tree });
    if (!bundle.ok) throw new Error(`the baseline's bundle failed. ${bundle.error}`);
    stops.push(bundle.cleanup);
    const database = await startDatabaseHost({ root: existsSync(path.join(tree, "bench/database-host.mjs")) ? tree : ROOT });
    stops.push(database.stop);
    const host = await startRuntimeHost({
      mockUrl,
      bundlePath: bundle.bundlePath,
      wranglerConfig: path.join(tree, "wrangler.toml"),
      gatewayOnly: true,
      split,
      gatewayBindings: bindings(database),
    });
    stops.push(host.stop);
    if (!host.gateway || host.gateway.error) throw new Error(`the baseline did not start on workerd. ${host.gateway?.error ?? ""}`);
    log(`baseline gateway   ${host.gateway.url} (workerd pid ${host.gateway.pid}${host.gateway.statePid ? ` + ${host.gateway.statePid}` : ""}; ${meta.short}, ledger ${database.engine})`);
    const seed = await seedFor(tree);
    const creds = await seed(host.gateway.url, adminToken, mockUrl);
    return { meta, url: host.gateway.url, pid: host.gateway.pid, statePid: host.gateway.statePid, host, creds, notes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
