// Drives a running gateway stack (startDevStack) as real clients do, over real sockets: admin calls, a
// tenant with its own key and balance, streams a client abandons at a chosen point, and the ledger read
// straight from the stack's database.
import http from "node:http";
// @ts-expect-error plain ESM module without types
import { connect } from "../../scripts/db-migrate.mjs";
import { waitUntil } from "../fixtures/wait";

export interface Stack {
  baseUrl: string;
  mockUrl: string;
  databaseUrl: string;
  credentials: { admin_token: string };
  stop: () => Promise<void>;
}

export async function admin<T = any>(stack: Stack, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${stack.baseUrl}/admin/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${stack.credentials.admin_token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`admin ${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json as T;
}

export interface TestTenant {
  tenantId: string;
  apiKey: string;
  keyId: string;
}

/** A fresh tenant with one unsigned key and `balanceMicros` of prepaid balance. */
export async function createTenant(stack: Stack, balanceMicros: number, keyFields: Record<string, unknown> = {}): Promise<TestTenant> {
  const tenant = await admin(stack, "POST", "/tenants", { name: `e2e ${Date.now()}` });
  const key = await admin(stack, "POST", `/tenants/${tenant.id}/keys`, { name: "e2e key", signature: "optional", ...keyFields });
  if (balanceMicros > 0) await admin(stack, "POST", `/tenants/${tenant.id}/credits`, { amount_micros: balanceMicros, idempotency_key: `e2e-${tenant.id}` });
  return { tenantId: tenant.id, apiKey: key.key, keyId: key.id };
}

export interface ClientCall {
  /** x-gateway-request-id, when the response headers arrived. */
  requestId?: string;
  status?: number;
  /** How the client ended it. */
  ending: "read_all" | "left_mid_body" | "left_before_headers" | "error";
  bytesRead: number;
}

/**
 * One POST over its own socket. `leaveAfterBytes`: destroy the socket once that many body bytes were read
 * (0: right after the headers; -1: before the headers arrive); undefined reads the whole body.
 */
export function post(url: string, headers: Record<string, string>, body: string, leaveAfterBytes?: number): Promise<ClientCall> {
  return new Promise((resolve) => {
    const agent = new http.Agent({ keepAlive: false });
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, agent });
    let settled = false;
    const done = (call: ClientCall) => {
      if (settled) return;
      settled = true;
      resolve(call);
    };
    req.on("error", () => done({ ending: "error", bytesRead: 0 }));
    req.on("response", (res) => {
      const requestId = res.headers["x-gateway-request-id"] as string | undefined;
      let bytesRead = 0;
      const leave = () => {
        res.destroy();
        req.destroy();
        done({ requestId, status: res.statusCode, ending: "left_mid_body", bytesRead });
      };
      if (leaveAfterBytes === 0) return leave();
      res.on("data", (chunk: Buffer) => {
        bytesRead += chunk.byteLength;
        if (leaveAfterBytes !== undefined && leaveAfterBytes > 0 && bytesRead >= leaveAfterBytes) leave();
      });
      res.on("end", () => done({ requestId, status: res.statusCode, ending: "read_all", bytesRead }));
      res.on("error", () => done({ requestId, status: res.statusCode, ending: "error", bytesRead }));
    });
    req.end(body);
    if (leaveAfterBytes === -1) {
      // Leave as soon as the request is out, before any answer.
      req.on("finish", () => {
        req.destroy();
        done({ ending: "left_before_headers", bytesRead: 0 });
      });
    }
  });
}

/** Runs tasks with at most `concurrency` in flight. */
export async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}

/** A deterministic PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LedgerView {
  /** Ledger rows of the tenant's requests, by request id. */
  rows: Map<string, { kind: string; amount: bigint; flags: string[] }[]>;
  audited: Set<string>;
  debitTotal: bigint;
}

/** The tenant's billing rows and audit request ids, read straight from the stack's database. */
export async function ledgerOf(stack: Stack, tenantId: string): Promise<LedgerView> {
  const { client, close } = await connect(stack.databaseUrl);
  try {
    const billing = await client.query(`SELECT request_id, kind, amount_micros::text AS amount, meta FROM billing_transaction WHERE tenant_id = $1 AND kind <> 'credit'`, [tenantId]);
    const audit = await client.query(`SELECT request_id FROM audit_log WHERE tenant_id = $1 AND channel = 'external'`, [tenantId]);
    const rows = new Map<string, { kind: string; amount: bigint; flags: string[] }[]>();
    let debitTotal = 0n;
    for (const r of billing.rows as { request_id: string; kind: string; amount: string; meta: { flags?: string[]; corrects?: string } }[]) {
      const id = r.meta?.corrects ?? r.request_id;
      rows.set(id, [...(rows.get(id) ?? []), { kind: r.kind, amount: BigInt(r.amount), flags: r.meta?.flags ?? [] }]);
      debitTotal += BigInt(r.amount);
    }
    return { rows, audited: new Set((audit.rows as { request_id: string }[]).map((r) => r.request_id)), debitTotal };
  } finally {
    await close();
  }
}

/** The tenant's balance of record and open holds, as its TenantGuard holds them (admin API). */
export async function guardView(stack: Stack, tenantId: string): Promise<{ balance: number; held: number }> {
  const t = await admin(stack, "GET", `/tenants/${tenantId}`);
  return { balance: t.balance_micros, held: t.held_micros };
}

/** Polls `check` until it returns true; fails with `what` and the last observation after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean | string>, timeoutMs = 90_000, intervalMs = 250): Promise<void> {
  await waitUntil(what, check, { timeoutMs, intervalMs });
}
