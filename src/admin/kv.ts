// KV access for the admin API: fresh typed reads (no cache: an admin sees its own writes), writes that
// drop this isolate's cached copy, and paged listing of an index prefix. KV failures are 503 values.
import type { z } from "zod";
import type { Env } from "../env";
import { err, fail, ok, type Result } from "../errors";
import { invalidateConfig } from "../config/store";

const unavailable = () => fail("config_unavailable", "The configuration store is unavailable; try again shortly.");

function logFailure(msg: string, key: string, error: unknown): void {
  // Only the key's prefix: the rest of an apikey/service key is a credential hash.
  console.error(JSON.stringify({ level: "error", msg, key: key.split(":")[0], error: String(error) }));
}

export async function readJson<S extends z.ZodType>(env: Env, key: string, schema: S): Promise<Result<z.output<S> | null>> {
  try {
    const raw = await env.CONFIG_KV.get(key, "json");
    if (raw === null) return ok(null);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      logFailure("stored config does not match its schema", key, parsed.error.issues[0]?.message);
      return err(unavailable());
    }
    return ok(parsed.data);
  } catch (error) {
    logFailure("admin config read failed", key, error);
    return err(unavailable());
  }
}

export async function writeJson(env: Env, key: string, value: unknown): Promise<Result<void>> {
  try {
    await env.CONFIG_KV.put(key, JSON.stringify(value));
    invalidateConfig(key);
    return ok(undefined);
  } catch (error) {
    logFailure("admin config write failed", key, error);
    return err(unavailable());
  }
}

export interface Page {
  /** Full KV key names, in key order. */
  names: string[];
  nextCursor: string | null;
}

/**
 * Our cursors wrap KV's and name the prefix they page through: a cursor from another listing, or a
 * made-up one, is a 400 before KV sees it.
 */
function encodeCursor(prefix: string, kvCursor: string): string {
  return btoa(`${prefix}\n${kvCursor}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(prefix: string, cursor: string): string | null {
  try {
    const text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const split = text.indexOf("\n");
    if (split === -1 || text.slice(0, split) !== prefix || split === text.length - 1) return null;
    return text.slice(split + 1);
  } catch {
    return null;
  }
}

export async function listPrefix(env: Env, prefix: string, limit: number, cursor: string | undefined): Promise<Result<Page>> {
  const kvCursor = cursor === undefined ? undefined : decodeCursor(prefix, cursor);
  if (kvCursor === null) return err(fail("invalid_request", "The cursor is not valid for this list; start again without it.", { param: "cursor" }));
  try {
    const page = await env.CONFIG_KV.list({ prefix, limit, ...(kvCursor ? { cursor: kvCursor } : {}) });
    return ok({ names: page.keys.map((k) => k.name), nextCursor: page.list_complete ? null : encodeCursor(prefix, page.cursor) });
  } catch (error) {
    logFailure("admin config list failed", prefix, error);
    // KV refusing one of our own cursors (e.g. expired) is the client's to restart, not an outage.
    if (kvCursor) return err(fail("invalid_request", "The cursor is no longer valid; start again without it.", { param: "cursor" }));
    return err(unavailable());
  }
}
