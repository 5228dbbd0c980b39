// Hono typing of the admin API: the app's bindings and variables, plus when the admin call started (for audit latency).
import type { AppEnv } from "../app-env";

export interface AdminEnv {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { adminStartedAt: number };
}
