// Cron entry: dispatches each schedule in wrangler.toml to its jobs; a failed job is logged and fails the run.
import type { Env } from "./env";
import { runAuditPurge } from "./jobs/purge-audit";
import { runReconciliation } from "./jobs/reconcile";

export const CRON_EVERY_5_MIN = "*/5 * * * *";
export const CRON_DAILY = "17 3 * * *";

const JOBS: Record<string, Record<string, (env: Env) => Promise<unknown>>> = {
  [CRON_EVERY_5_MIN]: { reconciliation: runReconciliation },
  [CRON_DAILY]: { audit_purge: runAuditPurge },
};

export async function handleScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const jobs = JOBS[controller.cron];
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "scheduled run with no job", cron: controller.cron }));
    return;
  }
  const failed: string[] = [];
  for (const [name, run] of Object.entries(jobs)) {
    try {
      await run(env);
    } catch (error) {
      failed.push(name);
      console.error(JSON.stringify({ level: "error", msg: "scheduled job failed", cron: controller.cron, job: name, error: String(error) }));
    }
  }
  // Throwing marks the invocation failed in the cron history; the other jobs still ran.
  if (failed.length > 0) throw new Error(`scheduled jobs failed: ${failed.join(", ")}`);
}
