// Completion task store_cache: a miss that ended with a complete 200 answer stores it in both tiers,
// then (stored or not) lands the request's single flight so its followers are served or go on.
import type { GatewayContext } from "../context";
import type { GatewayCompletion } from "../steps/types";
import { SANITIZED_BODY_FIELDS } from "../security/response-fields";
import type { CachedEntry, StoredEntry } from "./entry";
import { writeEntry } from "./tiers";

const ANSWER_WAIT_MS = 2_000;

/** The transform keeps the OpenAI-format answer of a miss that may be stored (a stream's, via tapAnswer). */
export function keepAnswer(ctx: GatewayContext, answer: unknown | Promise<unknown | null>): void {
  const cache = ctx.cache;
  if (cache?.result === "miss" && cache.store) cache.answer = Promise.resolve(answer);
}

export function wantsAnswer(ctx: GatewayContext): boolean {
  return ctx.cache?.result === "miss" && ctx.cache.store;
}

async function entryOf(ctx: GatewayContext, usage: CachedEntry["usage"]): Promise<CachedEntry | null> {
  // A complete stream's answer settled as it ended; the bound only guards against a stage never ended.
  const answer = await Promise.race([ctx.cache!.answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), ANSWER_WAIT_MS))]);
  if (answer === null || typeof answer !== "object") return null;
  // Stored as the external channel would send it: a shared entry read by a tenant carries no upstream detail.
  const body = { ...(answer as Record<string, unknown>) };
  for (const field of SANITIZED_BODY_FIELDS) delete body[field];
  return { v: 1, capability: ctx.parsed!.capability, body, usage, preset: ctx.upstream!.target.id, storedAt: Date.now() };
}

async function store(ctx: GatewayContext, usage: CachedEntry["usage"]): Promise<StoredEntry | null> {
  const cache = ctx.cache!;
  const entry = await entryOf(ctx, usage);
  if (!entry) return null;
  if (JSON.stringify(entry).length > cache.maxEntryBytes) {
    ctx.flags.add("cache_entry_too_large");
    return null;
  }
  await writeEntry(ctx.env, cache.key!, entry, cache.ttlS);
  ctx.flags.add("cache_stored");
  return { entry, expiresAt: entry.storedAt + cache.ttlS * 1000 };
}

export const storeCachedAnswer: GatewayCompletion = {
  name: "store_cache",
  when: (ctx) => ctx.cache?.result === "miss",
  async run(ctx, outcome) {
    const cache = ctx.cache!;
    let landed: StoredEntry | null = null;
    try {
      const complete = outcome.ending === "complete" && ctx.error === undefined && ctx.status === 200 && ctx.upstream !== undefined;
      if (cache.store && cache.answer && complete && outcome.usage) landed = await store(ctx, outcome.usage);
    } catch (error) {
      ctx.flags.add("cache_unavailable");
      console.error(JSON.stringify({ level: "error", msg: "cache store failed", request_id: ctx.requestId, error: String(error) }));
    } finally {
      cache.flight?.land(landed);
    }
  },
};
