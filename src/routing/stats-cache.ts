// The routing step's view of arm statistics: an in-isolate cache, never a blocking call. A read older
// than STATS_REFRESH_MS starts a refresh in waitUntil (one per route at a time) and the request goes
// on with what is cached; the reply to each reward report refreshes it too. With nothing cached yet
// ("cold") or nothing readable for STATS_MAX_AGE_MS ("unavailable"), routing degrades to static weights.
import type { Env } from "../env";
import type { LearningParams, Observation, RouteStats } from "./arm-stats";
import { armStatsStoreFor, type ArmStatsStore } from "./stats-store";

export const STATS_REFRESH_MS = 1_000;
/** Statistics older than this are not trusted: the store has not answered for ~10 refreshes. */
export const STATS_MAX_AGE_MS = 10_000;
/** A refresh that has not answered by then counts as failed (and another may start). */
export const STATS_READ_TIMEOUT_MS = 2_000;

export type StatsView = { state: "ok"; stats: RouteStats; ageMs: number } | { state: "cold" } | { state: "unavailable" };

interface Entry {
  stats?: RouteStats;
  /** When the request that produced `stats` was sent (its data is at least this fresh). */
  fetchedAt: number;
  /** When `stats` arrived: a reply sent after it may carry a lower seq (the store was reset) and still be newer. */
  receivedAt: number;
  failedAt: number;
  refreshing: boolean;
}

function logError(msg: string, route: string, error: unknown): void {
  console.error(JSON.stringify({ level: "error", msg, route, error: String(error) }));
}

export class ArmStatsCache {
  readonly #store: ArmStatsStore;
  readonly #entries = new Map<string, Entry>();

  constructor(store: ArmStatsStore) {
    this.#store = store;
  }

  get backend(): ArmStatsStore["backend"] {
    return this.#store.backend;
  }

  /** What routing may use now; starts a background refresh when the entry is due. Never waits. */
  view(exec: ExecutionContext, route: string, now: number = Date.now()): StatsView {
    let entry = this.#entries.get(route);
    if (!entry) this.#entries.set(route, (entry = { fetchedAt: -Infinity, receivedAt: -Infinity, failedAt: -Infinity, refreshing: false }));
    if (!entry.refreshing && now - Math.max(entry.fetchedAt, entry.failedAt) >= STATS_REFRESH_MS) this.#refresh(exec, route, entry);
    if (!entry.stats) return entry.failedAt > -Infinity ? { state: "unavailable" } : { state: "cold" };
    const ageMs = Math.max(0, now - entry.fetchedAt);
    return ageMs > STATS_MAX_AGE_MS ? { state: "unavailable" } : { state: "ok", stats: entry.stats, ageMs };
  }

  /** Sends a request's observations off the hot path; the reply refreshes this isolate's copy. */
  report(exec: ExecutionContext, route: string, observations: Observation[], params: LearningParams): void {
    if (observations.length === 0) return;
    const sentAt = Date.now();
    exec.waitUntil(
      this.#store.record(route, observations, params).then(
        (stats) => this.remember(route, stats, sentAt),
        (error) => logError("bandit stats record failed", route, error),
      ),
    );
  }

  /** Keeps a reply unless a newer one is already held (replies from many requests arrive out of order). */
  remember(route: string, stats: RouteStats, sentAt: number): void {
    const entry = this.#entries.get(route) ?? { fetchedAt: -Infinity, receivedAt: -Infinity, failedAt: -Infinity, refreshing: false };
    this.#entries.set(route, entry);
    if (entry.stats && stats.seq < entry.stats.seq && sentAt <= entry.receivedAt) return;
    entry.stats = stats;
    entry.fetchedAt = Math.max(entry.fetchedAt, sentAt);
    entry.receivedAt = Date.now();
  }

  clear(): void {
    this.#entries.clear();
  }

  #refresh(exec: ExecutionContext, route: string, entry: Entry): void {
    entry.refreshing = true;
    const sentAt = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STATS_READ_TIMEOUT_MS} ms`)), STATS_READ_TIMEOUT_MS);
    });
    exec.waitUntil(
      Promise.race([this.#store.read(route), timeout])
        .then(
          (stats) => this.remember(route, stats, sentAt),
          (error) => {
            entry.failedAt = Date.now();
            logError("bandit stats unavailable", route, error);
          },
        )
        .finally(() => {
          clearTimeout(timer);
          entry.refreshing = false;
        }),
    );
  }
}

const caches = new WeakMap<ArmStatsStore, ArmStatsCache>();

/** This isolate's cache for the env's store (the Durable Object, or Redis when configured). */
export function armStatsCacheFor(env: Env): ArmStatsCache {
  const store = armStatsStoreFor(env);
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new ArmStatsCache(store)));
  return cache;
}

/** For tests: forget every cached route in this isolate (for the env's store). */
export function clearArmStatsCache(env: Env): void {
  caches.get(armStatsStoreFor(env))?.clear();
}
