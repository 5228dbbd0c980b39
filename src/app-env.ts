// Hono's typing of this app: the Worker bindings and the per-request variables set by middleware.
import type { Env } from "./env";

export interface AppEnv {
  Bindings: Env;
  Variables: { traceId: string };
}
