// Global limiter on the GlobalLimiter Durable Object (the default backend): one object for all tenants.
import type { GlobalLimiter as GlobalLimiterObject } from "../../durable-objects/global-limiter";
import { objectNamed } from "../objects";
import type { GlobalDecision, GlobalLimiter, GlobalRefund, GlobalTake } from "./types";

export const GLOBAL_OBJECT_NAME = "global";

export function durableObjectGlobalLimiter(namespace: DurableObjectNamespace<GlobalLimiterObject>, name: string = GLOBAL_OBJECT_NAME): GlobalLimiter {
  const stub = () => objectNamed(namespace, name);
  return {
    backend: "durable_object",
    // A stub per call: an RPC stub belongs to the request that made it.
    take: (req: GlobalTake): Promise<GlobalDecision> => stub().take(req) as Promise<GlobalDecision>,
    async refund(req: GlobalRefund): Promise<void> {
      await stub().refund(req);
    },
  };
}
