// Hono's typing of this app: the Worker bindings and the per-request variables set by middleware.
import type { Env } from "./env";
import type { Principal } from "./context";
import type { AdminRole } from "./auth/roles";
import type { ErrorWire } from "./errors";

/** Who called an admin route: the break-glass ADMIN_TOKEN (`env:ADMIN_TOKEN`, an owner) or a named token. */
export interface AdminPrincipal {
  tokenId: string;
  role: AdminRole;
  /** A token scoped to one tenant sees and changes only that tenant; null for the whole gateway. */
  tenantId: string | null;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    traceId: string;
    /** Minted for every request (src/api/response-ids.ts): x-gateway-request-id and x-request-id, the ledger's and audit's request_id. */
    requestId: string;
    /** Set on the Anthropic routes (src/routes/gateway.ts): errors there are written in Anthropic's shape. */
    errorWire: ErrorWire;
    /** Set by tenantAuth() and serviceAuth() (src/auth/middleware.ts) for the routes behind them. */
    principal: Principal;
    /** Set by adminAuth(), and by serviceAuth() when it admits an admin token. */
    admin: AdminPrincipal;
    /** When the admin call started (audit latency). */
    adminStartedAt: number;
  };
}
