// Cron entry: dispatches each schedule in wrangler.toml to its job.
import type { Env } from "./env";

export async function handleScheduled(controller: ScheduledController, _env: Env, _ctx: ExecutionContext): Promise<void> {
  console.log(JSON.stringify({ level: "info", msg: "scheduled run", cron: controller.cron }));
}
