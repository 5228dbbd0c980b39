// The response cache key: SHA-256 over the scope, the resolved preset and its config version, the purge
// generations and the normalized request. Normalized: fields that cannot change the answer are left out
// and object keys are sorted, so two spellings of one request share an entry.
import { sha256Hex } from "../security/encoding";

/** Request fields that never change the answer: who asks, labels, and how it is delivered. */
export const IGNORED_FIELDS: ReadonlySet<string> = new Set(["user", "metadata", "stream", "stream_options", "store"]);

/** JSON with object keys sorted at every depth (arrays keep their order: message order is meaning). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export function normalizedRequest(body: Record<string, unknown>): string {
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) if (!IGNORED_FIELDS.has(name)) kept[name] = value;
  return canonicalJson(kept);
}

export interface KeyParts {
  /** "tenant:<id>" or "shared". */
  scope: string;
  capability: string;
  presetId: string;
  configVersion: number;
  /** Purge generations of the tenant (tenant scope only) and of the preset (src/cache/generations.ts). */
  generations: string;
  body: Record<string, unknown>;
}

export function cacheKey(parts: KeyParts): Promise<string> {
  const head = JSON.stringify(["v1", parts.scope, parts.capability, parts.presetId, parts.configVersion, parts.generations]);
  const bytes = new TextEncoder().encode(`${head}\n${normalizedRequest(parts.body)}`);
  return sha256Hex(bytes as Uint8Array<ArrayBuffer>);
}
