// The response cache's per-request state on the context.
import type { PresetItem } from "../config/schemas";
import type { CachedEntry } from "./entry";
import type { Flight } from "./single-flight";

export type CacheResult = "hit" | "miss" | "bypass";

export interface CacheState {
  result: CacheResult;
  /** Why the request bypassed the cache (for the audit flags), when it did. */
  reason?: string;
  /** Hex SHA-256 of the scope, preset, config version, generations and normalized request. */
  key?: string;
  /** The preset the policy came from (the route's primary candidate). */
  preset?: PresetItem;
  /** Whether a complete answer may be stored, and for how long (seconds). */
  store: boolean;
  ttlS: number;
  maxEntryBytes: number;
  /** The entry found (result "hit"). */
  entry?: CachedEntry;
  /** Set once the hit was sent: billing then charges the cache price. */
  served?: boolean;
  /** The OpenAI-format answer of a miss, kept by transform_response (a stream's resolves when it ends). */
  answer?: Promise<unknown | null>;
  /** This request leads the isolate's single flight for its key: its completion releases the followers. */
  flight?: Flight;
}
