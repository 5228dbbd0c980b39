// The priority classes, defined once: which traffic each one is, and how much of a saturated upstream
// target's concurrency slots it may use. When a target's slots run short, a class is shed (503
// `overloaded`) once the target's requests in flight reach its share, so lower classes go first and the
// interactive classes keep the last slots (docs/api/rate-limit.md, "Priority classes").
export interface PriorityClassInfo {
  /** 0 is served last-shed; larger ranks are shed first. */
  rank: number;
  /** Share (0..1] of a target's `max_concurrent_requests` this class may fill; the rest is kept for higher classes. */
  targetShare: number;
  description: string;
}

export const PRIORITY_CLASSES = {
  interactive_external: { rank: 0, targetShare: 1, description: "Tenants' requests on the external channel: a person or a product is waiting." },
  interactive_internal: { rank: 1, targetShare: 0.9, description: "Company services answering a person (the default for service tokens)." },
  best_effort_internal: { rank: 2, targetShare: 0.6, description: "Company services whose work can wait or be retried later (set per service)." },
  batch: { rank: 3, targetShare: 0.4, description: "Batch lines (POST /batches); first to be shed." },
} as const satisfies Record<string, PriorityClassInfo>;

export type PriorityClass = keyof typeof PRIORITY_CLASSES;

export const PRIORITY_CLASS_NAMES = Object.keys(PRIORITY_CLASSES) as [PriorityClass, ...PriorityClass[]];

/** Services may choose any class but the external one; tenants' keys are always interactive_external. */
export const SERVICE_PRIORITY_CLASSES = ["interactive_internal", "best_effort_internal", "batch"] as const;
export type ServicePriorityClass = (typeof SERVICE_PRIORITY_CLASSES)[number];

export function priorityClassOf(principal: { kind: "api_key" | "service"; priorityClass?: PriorityClass }): PriorityClass {
  // A batch line runs as its creator, tenant key or service, in the batch class (src/batches/line-principal.ts).
  if (principal.priorityClass === "batch") return "batch";
  if (principal.kind === "api_key") return "interactive_external";
  return principal.priorityClass ?? "interactive_internal";
}

/** How many of a target's `limit` slots may be in flight when a request of `cls` asks for one (at least 1). */
export function classSlots(cls: PriorityClass, limit: number): number {
  return Math.max(1, Math.floor(limit * PRIORITY_CLASSES[cls].targetShare));
}

/**
 * The share of each of its owner's rate limits and concurrency caps a batch line may fill, counting all of the
 * owner's traffic in the window: a line is admitted only while the owner's requests in the window (interactive
 * ones included) stay under this share. So a batch's own lines never take more than this share, and an
 * interactive client running at up to 1 - BATCH_LIMIT_SHARE (80%) of its limits meets no more 429s while the
 * batch runs than without it; the batch waits (its lines are retried later) while interactive traffic is heavy.
 */
export const BATCH_LIMIT_SHARE = 0.2;
