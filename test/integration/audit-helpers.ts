// Fixtures for the audit and usage suites: varied audit rows written with the real ledger code,
// calls through the real Worker, and a pager that follows next_cursor to the end.
import { env, SELF } from "cloudflare:test";
import { createDb } from "../../src/db/client";
import { insertAuditRecords, type AuditRecord } from "../../src/db/ledger";

export const ADMIN_TOKEN = "test-admin-token";
export const ledger = createDb(env, { max: 4 });

const MODELS = ["mock-openai-chat", "mock-anthropic-chat", "mock-embed"] as const;
const OUTCOMES = [
  { status: 200, errorCode: null, errorSource: null, upstreamStatus: null },
  { status: 429, errorCode: "rate_limit_exceeded", errorSource: "client", upstreamStatus: null },
  { status: 502, errorCode: "upstream_error", errorSource: "upstream", upstreamStatus: 500 },
  { status: 503, errorCode: "circuit_open", errorSource: "gateway", upstreamStatus: null },
] as const;

/**
 * `count` external-channel records of one tenant spread over its keys, models and outcomes.
 * Times: every third record shares one instant (ties are broken by id), a few carry microseconds,
 * the rest are a second apart, all within `base - count s .. base`.
 */
export function auditRows(tenantId: string, keyIds: readonly string[], count: number, base: number, tag = tenantId): AuditRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const outcome = OUTCOMES[i % OUTCOMES.length]!;
    const at = i % 3 === 0 ? new Date(base - 500_000).toISOString() : i % 7 === 1 ? `${new Date(base - i * 1000).toISOString().slice(0, 19)}.${String(100_000 + i).padStart(6, "0")}Z` : new Date(base - i * 1000);
    return {
      traceId: `trace-${tag}-${i}`,
      requestId: `req-${tag}-${i}`,
      tenantId,
      keyId: keyIds[i % keyIds.length]!,
      channel: "external",
      route: "/external/v1/chat/completions",
      model: MODELS[i % MODELS.length]!,
      upstream: "preset-x",
      status: outcome.status,
      errorCode: outcome.errorCode,
      errorSource: outcome.errorSource,
      upstreamStatus: outcome.upstreamStatus,
      latencyMs: 10 + i,
      stepTimings: { steps: [{ name: "verify_signature", status: "ok", duration_ms: 1, attempts: 1 }] },
      configVersion: 3,
      flags: i % 5 === 0 ? ["rate_limit_fail_open"] : [],
      meta: { input_tokens: i, output_tokens: 2 * i, usage_estimated: false, cost_micros: 3 * i, stream: i % 2 === 0, ending: "complete" },
      occurredAt: at,
    };
  });
}

export async function insertAudit(records: AuditRecord[]): Promise<void> {
  await insertAuditRecords(ledger.db, records);
}

export interface Reply {
  status: number;
  headers: Headers;
  // Bodies are asserted field by field in the suites.
  body: any;
  text: string;
}

export async function get(path: string, headers: Record<string, string>): Promise<Reply> {
  const res = await SELF.fetch(`https://gw.test${path}`, { headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Follows next_cursor until the end; fails on any non-200 page. */
export async function pageAll(path: string, headers: Record<string, string>): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const reply = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path, headers);
    if (reply.status !== 200) throw new Error(`page ${pages + 1}: ${reply.status} ${reply.text}`);
    items.push(...reply.body.data);
    cursor = reply.body.next_cursor;
    pages += 1;
  } while (cursor && pages < 10_000);
  return { items, pages };
}

/** Newest first, ties by insertion order reversed: what the API must return. */
export function newestFirst(records: AuditRecord[], ids: Map<string, string>): string[] {
  const micros = (r: AuditRecord) => {
    const text = r.occurredAt instanceof Date ? r.occurredAt.toISOString() : String(r.occurredAt);
    const [whole, fraction = "0"] = text.replace("Z", "").split(".");
    return BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt(fraction.padEnd(6, "0").slice(0, 6));
  };
  return [...records]
    .sort((a, b) => {
      const d = micros(b) - micros(a);
      if (d !== 0n) return d > 0n ? 1 : -1;
      const ia = BigInt(ids.get(a.requestId)!);
      const ib = BigInt(ids.get(b.requestId)!);
      return ib > ia ? 1 : ib < ia ? -1 : 0;
    })
    .map((r) => r.requestId);
}
