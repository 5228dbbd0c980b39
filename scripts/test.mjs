// `npm test`: typechecks, runs every suite (workerd and Node projects) in one vitest run, and ends
// with one plain summary line "N passed, N failed, N skipped" that CI reads.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(ROOT, "node_modules", ".bin", name);
const passthrough = process.argv.slice(2);

const typecheck = spawnSync(bin("tsc"), ["--noEmit", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
if (typecheck.status !== 0) {
  console.log("typecheck: 0 passed, 1 failed");
  process.exit(1);
}

mkdirSync(path.join(ROOT, "test-results"), { recursive: true });
const report = path.join(ROOT, "test-results", "vitest.json");
const run = spawnSync(bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...passthrough], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, FORCE_COLOR: process.env.CI ? "0" : process.env.FORCE_COLOR },
});

let summary = "";
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  const skipped = json.numPendingTests + json.numTodoTests;
  summary = `${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`;
  if (json.numTotalTests === 0) summary = "0 passed, 1 failed (no test ran)";
} catch {
  summary = "0 passed, 1 failed (no report written)";
}
console.log(`\ntests: ${summary}`);
process.exit(run.status === 0 && !summary.includes("no test") ? 0 : 1);
