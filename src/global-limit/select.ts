// Picks the global limiter backend: Upstash Redis when configured, else the Durable Object (src/shared-state.ts).
import { sharedStateBackend } from "../shared-state";
import { durableObjectGlobalLimiter } from "./durable-object-limiter";
import { redisGlobalLimiter } from "./redis-limiter";
import type { GlobalLimiter } from "./types";

export const globalLimiterFor = sharedStateBackend<GlobalLimiter>(redisGlobalLimiter, (env) => durableObjectGlobalLimiter(env.GLOBAL_LIMITER));
