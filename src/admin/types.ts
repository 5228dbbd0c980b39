// Hono typing of the admin API: the app's own (bindings, trace id, the admin principal, when the call started).
import type { AppEnv } from "../app-env";

export type AdminEnv = AppEnv;
