// Admin roles, in one table: which area of the admin API each role may read or change, and whether it
// may read operations data (metrics, readiness, the dashboard). A route group states its area; the
// method decides read (GET, HEAD) or write (anything else). ADMIN_TOKEN from the environment is an owner.
export const ADMIN_ROLES = ["owner", "operator", "billing", "read_only"] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** Areas of the admin API, each route group in exactly one. */
export type AdminArea = "config" | "billing" | "ledger" | "tokens" | "cache";

type Access = "read" | "write";

export const ROLE_ACCESS: Record<AdminRole, { areas: Partial<Record<AdminArea, Access>>; operations: boolean }> = {
  owner: { areas: { config: "write", billing: "write", ledger: "write", tokens: "write", cache: "write" }, operations: true },
  operator: { areas: { config: "write", billing: "read", ledger: "read", cache: "write" }, operations: true },
  billing: { areas: { config: "read", billing: "write", ledger: "read" }, operations: false },
  read_only: { areas: { config: "read", billing: "read", ledger: "read", cache: "read" }, operations: true },
};

export function accessFor(method: string): Access {
  return method === "GET" || method === "HEAD" ? "read" : "write";
}

/** Whether `role` may make a request of `method` to a route of `area`. */
export function roleAllows(role: AdminRole, area: AdminArea, method: string): boolean {
  const granted = ROLE_ACCESS[role].areas[area];
  return granted === "write" || (granted === "read" && accessFor(method) === "read");
}
