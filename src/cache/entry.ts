// The shape of a stored answer, shared by the tiers that keep it, the single flight that hands it on and
// the per-request state that holds it (kept apart so none of them imports another for a type).
import type { Usage } from "../billing/usage-meter";

/** A stored answer: the OpenAI-format body (chat completion or embeddings), rendered per request on a hit. */
export interface CachedEntry {
  v: 1;
  capability: "chat" | "embeddings";
  body: unknown;
  usage: Usage;
  /** The preset that answered, and when (ms). */
  preset: string;
  storedAt: number;
}

export interface StoredEntry {
  entry: CachedEntry;
  /** When it expires (ms): KV may keep it up to a minute past a short TTL. */
  expiresAt: number;
}
