// Helpers for the admin API suites: calls through the real Worker (SELF.fetch) and a full KV dump.
import { env, SELF } from "cloudflare:test";

export const ADMIN_TOKEN = "test-admin-token";

export interface Reply {
  status: number;
  headers: Headers;
  // Response bodies are asserted field by field; their shapes are what the tests check.
  body: any;
  text: string;
}

export async function call(method: string, path: string, opts: { body?: unknown; token?: string | null; headers?: Record<string, string>; raw?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json";
  const res = await SELF.fetch(`https://gw.test${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

export const admin = (method: string, path: string, body?: unknown) => call(method, `/admin/v1${path}`, { body });

export async function createTenant(body: Record<string, unknown> = {}): Promise<any> {
  const res = await admin("POST", "/tenants", { name: "Acme", ...body });
  if (res.status !== 201) throw new Error(`create tenant: ${res.status} ${res.text}`);
  return res.body;
}

export async function createKey(tenantId: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await admin("POST", `/tenants/${tenantId}/keys`, body);
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${res.text}`);
  return res.body;
}

/** Every KV key and value, concatenated: what an attacker with a storage dump would see. */
export async function kvDump(): Promise<string> {
  const parts: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.CONFIG_KV.list(cursor ? { cursor } : {});
    for (const key of page.keys) parts.push(key.name, (await env.CONFIG_KV.get(key.name)) ?? "");
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return parts.join("\n");
}

export function expectErrorShape(reply: Reply): void {
  if (typeof reply.body?.error?.code !== "string" || typeof reply.body?.trace_id !== "string" || !("param" in reply.body.error)) {
    throw new Error(`not the gateway's error body: ${reply.text}`);
  }
}
