// One reconciliation to hold it all: a hostile mixed workload through real sockets against the running stack
// (`npm start`'s wrangler dev on workerd): streams abandoned at random points, upstream resets and malformed
// streams, Idempotency-Key retries, fallbacks past a failing upstream, answers over the size limit, absurd
// numbers, and concurrent long answers against a small balance. It ends with the TenantGuard's spend equal to
// the ledger's and to the usage API's, to the micro-unit, every served request billed once, and no balance
// below zero. HOSTILE_REQUESTS sets the size of the mixed part (default 240), HOSTILE_SEED its order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";
// @ts-expect-error plain ESM module without types
import { demoPresets } from "../../scripts/demo-presets.mjs";
// @ts-expect-error plain ESM module without types
import { connect } from "../../scripts/db-migrate.mjs";
import { admin, createTenant, eventually, guardView, ledgerOf, pool, post, seeded, type ClientCall, type Stack, type TestTenant } from "./stack-client";

const REQUESTS = Number(process.env.HOSTILE_REQUESTS ?? 240);
const SEED = Number(process.env.HOSTILE_SEED ?? 20261203);
const BIG_BALANCE = 1_000_000_000;
/** Small enough that most of the concurrent long answers are refused: five reservations. */
const SMALL_RESERVATIONS = 5;
const LONG_ANSWERS = 20;
const MAX_RESPONSE_BYTES = 300_000;

let stack: Stack;
let hostile: TestTenant;
let small: TestTenant;
let smallBalance = 0;

const SCENARIOS: Record<string, Record<string, unknown>> = {
  "h-slow": { chunks: 40, chunk_delay_ms: 3 },
  "h-reset": { fault: "reset_mid_stream", fault_after_chunks: 3, chunks: 10 },
  "h-malformed": { fault: "malformed_sse", chunks: 6 },
  "h-huge": { fault: "oversized", oversized_bytes: 2 * MAX_RESPONSE_BYTES },
  "h-endless": { fault: "endless" },
  "h-down": { status: 503 },
  "h-up": {},
  "h-anth": { chunks: 12 },
  "h-long": { completion_tokens: 3_000, latency_ms: 150 },
};

function hostilePresets(mockUrl: string) {
  const pricing = { input_per_million_micros: 150_000, output_per_million_micros: 600_000, per_request_micros: 3, currency: "USD" };
  const common = { credential: "MOCK_API_KEY", pricing, visibility: "both", priority: 0, weight: 1, enabled: true, aliases: [] };
  // The hostile upstreams' breakers never open, so every request of theirs reaches them and is billed (or not) as it ends.
  const openai = (id: string, model: string, scenario: string, extra: Record<string, unknown> = {}) => ({
    ...common, id, capability: "chat", model, provider: "openai", base_url: `${mockUrl}/s/${scenario}/v1`, auth: "bearer", breaker: { minimum_calls: 1_000_000 }, ...extra,
  });
  return [
    openai("h-slow", "h-slow", "h-slow"),
    openai("h-reset", "h-reset", "h-reset"),
    openai("h-malformed", "h-malformed", "h-malformed"),
    openai("h-huge", "h-huge", "h-huge"),
    openai("h-endless", "h-endless", "h-endless"),
    openai("h-fb-down", "h-fallback", "h-down"),
    openai("h-fb-up", "h-fallback", "h-up", { priority: 1 }),
    openai("h-long", "h-long", "h-long"),
    { ...common, id: "h-anth", capability: "chat", model: "h-anthropic", provider: "anthropic", base_url: `${mockUrl}/s/h-anth/v1`, upstream_model: "claude-mock", auth: "x-api-key" },
  ];
}

beforeAll(async () => {
  const port = 18700 + Math.floor(Math.random() * 1000);
  stack = await startDevStack({
    port,
    stateDir: `.dev/e2e-hostile-${port}`,
    quiet: true,
    log: () => {},
    // Short deadlines and a small size limit, so the hostile cases end in seconds.
    vars: { MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES), CLIENT_IDLE_TIMEOUT_MS: "3000", UPSTREAM_IDLE_TIMEOUT_MS: "3000" },
  });
  for (const [name, settings] of Object.entries(SCENARIOS)) {
    const res = await fetch(`${stack.mockUrl}/__mock/scenarios/${name}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(settings) });
    expect(res.ok).toBe(true);
  }
  await admin(stack, "PUT", "/presets", { items: [...demoPresets(stack.mockUrl), ...hostilePresets(stack.mockUrl)] });
  hostile = await createTenant(stack, BIG_BALANCE);
  // The small tenant's balance: five reservations of one long answer, read from the 402 of a tenant with none.
  const probe = await createTenant(stack, 0);
  const refused = await fetch(`${stack.baseUrl}/external/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${probe.apiKey}`, "content-type": "application/json" },
    body: longBody(0),
  });
  const reservation = Number(/estimated cost (\d+)/.exec(((await refused.json()) as any).error.message)![1]);
  smallBalance = SMALL_RESERVATIONS * reservation;
  small = await createTenant(stack, smallBalance);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

function longBody(i: number): string {
  return JSON.stringify({ model: "h-long", messages: [{ role: "user", content: `a long answer ${i}` }] });
}

type Kind =
  | "normal" | "normal_stream" | "anthropic_stream" | "n_choices" | "abandoned" | "reset_stream" | "reset_json" | "malformed_stream"
  | "malformed_json" | "fallback" | "idempotent" | "oversize_stream" | "oversize_json" | "endless_json" | "huge_numbers";

const WEIGHTS: [Kind, number][] = [
  ["normal", 3], ["normal_stream", 2], ["anthropic_stream", 1], ["n_choices", 1], ["abandoned", 5], ["reset_stream", 1], ["reset_json", 1],
  ["malformed_stream", 1], ["malformed_json", 1], ["fallback", 2], ["idempotent", 2], ["oversize_stream", 1], ["oversize_json", 1],
  ["endless_json", 1], ["huge_numbers", 1],
];

/** Statuses each kind may end with (abandoned ones are left by the client, so any). */
const EXPECTED: Record<Kind, number[]> = {
  normal: [200], normal_stream: [200], anthropic_stream: [200], n_choices: [200], abandoned: [], reset_stream: [200], reset_json: [502],
  malformed_stream: [200], malformed_json: [502], fallback: [200], idempotent: [200], oversize_stream: [200], oversize_json: [502],
  endless_json: [502], huge_numbers: [400],
};

interface Done extends ClientCall {
  kind: Kind;
  /** Idempotent retries share a group. */
  group?: string;
}

function pick(random: () => number): Kind {
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let r = random() * total;
  for (const [kind, w] of WEIGHTS) if ((r -= w) < 0) return kind;
  return "normal";
}

function task(kind: Kind, i: number, random: () => number): () => Promise<Done[]> {
  const url = `${stack.baseUrl}/external/v1/chat/completions`;
  const auth = { authorization: `Bearer ${hostile.apiKey}` };
  const body = (model: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model, messages: [{ role: "user", content: `hostile ${kind} ${i}` }], ...extra });
  const one = async (b: string, leave?: number, headers: Record<string, string> = {}) => ({ ...(await post(url, { ...auth, ...headers }, b, leave)), kind });
  switch (kind) {
    case "normal": return async () => [await one(body(random() < 0.5 ? "mock-openai-chat" : "mock-azure-chat"))];
    case "normal_stream": return async () => [await one(body("mock-openai-chat", { stream: true, stream_options: { include_usage: true } }))];
    case "anthropic_stream": return async () => [await one(body("h-anthropic", { stream: true }))];
    case "n_choices": return async () => [await one(body("mock-openai-chat", { n: 3, max_tokens: 50 }))];
    case "abandoned": {
      const r = random();
      const leave = r < 0.05 ? -1 : r < 0.15 ? 0 : 1 + Math.floor(random() * 9_000);
      return async () => [await one(body("h-slow", { stream: true }), leave)];
    }
    case "reset_stream": return async () => [await one(body("h-reset", { stream: true }))];
    case "reset_json": return async () => [await one(body("h-reset"))];
    case "malformed_stream": return async () => [await one(body("h-malformed", { stream: true }))];
    case "malformed_json": return async () => [await one(body("h-malformed"))];
    case "fallback": return async () => [await one(body("h-fallback", { stream: random() < 0.5 }))];
    case "idempotent": {
      // The same key and body three times: the first runs, the retries replay it.
      const key = `hostile-${SEED}-${i}`;
      const b = body("mock-openai-chat", { stream: random() < 0.5 });
      return async () => {
        const out: Done[] = [];
        for (let k = 0; k < 3; k++) out.push({ ...(await one(b, undefined, { "idempotency-key": key })), group: key });
        return out;
      };
    }
    case "oversize_stream": return async () => [await one(body("h-huge", { stream: true }))];
    case "oversize_json": return async () => [await one(body("h-huge"))];
    case "endless_json": return async () => [await one(body("h-endless"))];
    case "huge_numbers": {
      const absurd = [{ max_tokens: 2 ** 53 - 1 }, { max_completion_tokens: 1e15 }, { n: 2 ** 31 }, { temperature: 1e308 }][Math.floor(random() * 4)]!;
      return async () => [await one(body("mock-openai-chat", absurd))];
    }
  }
}

async function usageSpend(tenant: TestTenant): Promise<bigint> {
  const res = await fetch(`${stack.baseUrl}/external/v1/usage`, { headers: { authorization: `Bearer ${tenant.apiKey}` } });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`usage: ${res.status} ${JSON.stringify(json)}`);
  return BigInt(json.total.cost_micros);
}

async function uncollected(tenantId: string): Promise<bigint> {
  const { client, close } = await connect(stack.databaseUrl);
  try {
    const r = await client.query(`SELECT coalesce(sum((meta->>'uncollected_micros')::bigint), 0)::text AS n FROM billing_transaction WHERE tenant_id = $1`, [tenantId]);
    return BigInt(r.rows[0].n);
  } finally {
    await close();
  }
}

/** The three books of a tenant: spend in its TenantGuard, in the ledger and in the usage API. */
async function books(tenant: TestTenant, balance: number) {
  const [view, ledger, usage] = await Promise.all([guardView(stack, tenant.tenantId), ledgerOf(stack, tenant.tenantId), usageSpend(tenant)]);
  return { held: view.held, balance: view.balance, guard: BigInt(balance - view.balance), ledger: -ledger.debitTotal, usage, rows: ledger.rows };
}

describe("a hostile mixed workload through real sockets", () => {
  it(`${REQUESTS} mixed hostile requests and ${LONG_ANSWERS} concurrent long answers against ${SMALL_RESERVATIONS} reservations: guard spend = ledger = usage API, none below zero`, async () => {
    const started = Date.now();
    const random = seeded(SEED);
    const kinds = Array.from({ length: REQUESTS }, () => pick(random));
    const tasks = kinds.map((kind, i) => task(kind, i, random));
    // The balance is watched throughout: never below zero.
    let lowest = { hostile: BIG_BALANCE, small: smallBalance };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [h, s] = await Promise.all([guardView(stack, hostile.tenantId), guardView(stack, small.tenantId)]);
        lowest = { hostile: Math.min(lowest.hostile, h.balance), small: Math.min(lowest.small, s.balance) };
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const longUrl = `${stack.baseUrl}/external/v1/chat/completions`;
    const [mixed, long] = await Promise.all([
      pool(tasks, 8),
      pool(Array.from({ length: LONG_ANSWERS }, (_, i) => () => post(longUrl, { authorization: `Bearer ${small.apiKey}` }, longBody(i + 1))), LONG_ANSWERS),
    ]);
    watching = false;
    await watcher;
    const calls = mixed.flat();

    // Every request ended as its kind allows.
    for (const c of calls) if (EXPECTED[c.kind].length > 0) expect({ kind: c.kind, status: c.status }).toEqual({ kind: c.kind, status: expect.toBeOneOf(EXPECTED[c.kind]) });
    expect(long.every((c) => c.status === 200 || c.status === 402)).toBe(true);
    const longServed = long.filter((c) => c.status === 200).length;
    expect(longServed).toBeGreaterThan(0);
    expect(longServed).toBeLessThanOrEqual(SMALL_RESERVATIONS);

    await eventually("every hold closed", async () => {
      const [h, s] = await Promise.all([guardView(stack, hostile.tenantId), guardView(stack, small.tenantId)]);
      return (h.held === 0 && s.held === 0) || `held ${h.held} and ${s.held}`;
    });
    let last = { hostile: await books(hostile, BIG_BALANCE), small: await books(small, smallBalance) };
    await eventually("the guard, the ledger and the usage API to agree", async () => {
      last = { hostile: await books(hostile, BIG_BALANCE), small: await books(small, smallBalance) };
      const agree = (b: typeof last.hostile) => b.guard === b.ledger && b.ledger === b.usage;
      return (agree(last.hostile) && agree(last.small)) || `hostile ${last.hostile.guard}/${last.hostile.ledger}/${last.hostile.usage}, small ${last.small.guard}/${last.small.ledger}/${last.small.usage}`;
    });

    // Every answer that was served or paid upstream has exactly one debit (corrections are separate rows).
    const billed = calls.filter((c) => c.requestId && (c.status === 200 || c.kind === "oversize_json" || c.kind === "endless_json"));
    for (const c of billed) {
      const debits = (last.hostile.rows.get(c.requestId!) ?? []).filter((r) => r.kind === "debit" && !r.flags.includes("correction"));
      if (c.group === undefined) expect({ kind: c.kind, debits: debits.length }).toEqual({ kind: c.kind, debits: 1 });
    }
    for (const c of calls.filter((c) => c.kind === "oversize_json" || c.kind === "endless_json")) {
      expect(last.hostile.rows.get(c.requestId!)![0]!.flags).toContain("oversize_answer");
    }
    // Idempotent retries: one debit per key, whatever the retries did.
    const groups = new Map<string, Done[]>();
    for (const c of calls) if (c.group) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
    for (const [key, members] of groups) {
      const ids = new Set(members.map((m) => m.requestId).filter(Boolean));
      const debits = [...ids].flatMap((id) => (last.hostile.rows.get(id!) ?? []).filter((r) => r.kind === "debit" && !r.flags.includes("correction")));
      expect({ key, debits: debits.length }).toEqual({ key, debits: 1 });
    }
    // Refused requests (absurd numbers, no balance) cost nothing anywhere.
    for (const c of calls.filter((c) => c.kind === "huge_numbers")) expect(last.hostile.rows.has(c.requestId!)).toBe(false);
    expect(await uncollected(small.tenantId)).toBe(0n);
    expect(lowest.hostile).toBeGreaterThanOrEqual(0);
    expect(lowest.small).toBeGreaterThanOrEqual(0);
    expect(last.small.balance).toBeGreaterThanOrEqual(0);

    const counts = Object.fromEntries(WEIGHTS.map(([k]) => [k, calls.filter((c) => c.kind === k).length]));
    console.log(
      `[figure] hostile workload: ${calls.length} mixed requests (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ")}) + ${LONG_ANSWERS} long answers against ${SMALL_RESERVATIONS} reservations (${longServed} served); ` +
        `spend hostile guard ${last.hostile.guard} = ledger ${last.hostile.ledger} = usage ${last.hostile.usage}, small guard ${last.small.guard} = ledger ${last.small.ledger} = usage ${last.small.usage} micro-units; ` +
        `lowest balances ${lowest.hostile} / ${lowest.small}, 0 holds open, 0 uncollected; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 600_000);
});
