// Reconciliation (the 5-minute cron): every tenant's TenantGuard balance against its ledger balance
// of record; drift and negative balances are logged as JSON lines and returned. Rules: ./drift.ts.
import { guardFor } from "../objects";
import { sql, type Kysely } from "kysely";
import { jsonInt } from "../admin-ledger/ledger-db";
import { kvKeys } from "../config/kv-keys";
import { createDb } from "../db/client";
import type { Database } from "../db/schema";
import type { Env } from "../env";
import { agrees, judge, type Look } from "./drift";

const TENANT_PREFIX = kvKeys.tenant("");

export interface ReconcileOptions {
  /** Time between the two looks at a tenant whose balances differ: the queue delay allowed. */
  graceMs?: number;
  /** An active tenant's difference is drift only from this size on (micro-units). */
  thresholdMicros?: bigint;
  /** Durable Object calls in flight at once. */
  concurrency?: number;
  currency?: string;
  /** How the job waits out the grace period (tests pass their own to act in between). */
  wait?: (ms: number) => Promise<void>;
}

export interface DriftFinding {
  tenantId: string;
  basis: "quiet" | "active";
  guardBalanceMicros: bigint;
  ledgerBalanceMicros: bigint;
  /** Guard minus ledger at the second look: > 0 the ledger lacks credits (or has extra debits). */
  driftMicros: bigint;
  firstDriftMicros: bigint;
}

export interface ReconciliationReport {
  checkedAt: string;
  tenants: number;
  inAgreement: number;
  /** Differed at the first look, explained by events in flight at the second. */
  inFlight: string[];
  drift: DriftFinding[];
  negative: { tenantId: string; balanceMicros: bigint; ledgerBalanceMicros: bigint }[];
  unreachable: { tenantId: string; error: string }[];
  ms: number;
}

export const DEFAULT_GRACE_MS = 30_000;
export const DEFAULT_THRESHOLD_MICROS = 1_000_000n;

async function tenantIds(env: Env): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.CONFIG_KV.list({ prefix: TENANT_PREFIX, ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) ids.push(key.name.slice(TENANT_PREFIX.length));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return ids;
}

async function ledgerBalances(db: Kysely<Database>, ids: string[], currency: string): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom("billing_transaction")
      .select(["tenant_id", sql<string>`sum(amount_micros)::text`.as("balance")])
      .where("tenant_id", "in", ids.slice(i, i + 500))
      .where("currency", "=", currency)
      .groupBy("tenant_id")
      .execute();
    for (const r of rows) out.set(r.tenant_id, BigInt(r.balance));
  }
  return out;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Ledger first, then the guard (see drift.ts for why the order matters). */
async function look(env: Env, db: Kysely<Database>, ids: string[], options: Required<Pick<ReconcileOptions, "concurrency" | "currency">>) {
  const ledger = await ledgerBalances(db, ids, options.currency);
  return mapLimited(ids, options.concurrency, async (tenantId) => {
    try {
      const snapshot = await guardFor(env, tenantId).snapshot();
      const result: Look = { guardMicros: BigInt(snapshot.balanceMicros), ledgerMicros: ledger.get(tenantId) ?? 0n };
      return { tenantId, look: result };
    } catch (error) {
      return { tenantId, error: String(error) };
    }
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function reconcileBalances(env: Env, db: Kysely<Database>, options: ReconcileOptions = {}): Promise<ReconciliationReport> {
  const started = Date.now();
  const settings = { concurrency: options.concurrency ?? 8, currency: options.currency ?? "USD" };
  const threshold = options.thresholdMicros ?? DEFAULT_THRESHOLD_MICROS;
  const ids = await tenantIds(env);
  const report: ReconciliationReport = { checkedAt: new Date(started).toISOString(), tenants: ids.length, inAgreement: 0, inFlight: [], drift: [], negative: [], unreachable: [], ms: 0 };

  const firsts = new Map<string, Look>();
  const latest = new Map<string, Look>();
  for (const r of await look(env, db, ids, settings)) {
    if (r.look === undefined) report.unreachable.push({ tenantId: r.tenantId, error: r.error });
    else if (agrees(r.look)) report.inAgreement += 1;
    else firsts.set(r.tenantId, r.look);
    if (r.look) latest.set(r.tenantId, r.look);
  }

  if (firsts.size > 0) {
    await (options.wait ?? sleep)(options.graceMs ?? DEFAULT_GRACE_MS);
    for (const r of await look(env, db, [...firsts.keys()], settings)) {
      if (r.look === undefined) {
        report.unreachable.push({ tenantId: r.tenantId, error: r.error });
        continue;
      }
      latest.set(r.tenantId, r.look);
      const first = firsts.get(r.tenantId)!;
      const verdict = judge(first, r.look, threshold);
      if (verdict.kind === "agree") report.inAgreement += 1;
      else if (verdict.kind === "in_flight") report.inFlight.push(r.tenantId);
      else {
        report.drift.push({
          tenantId: r.tenantId,
          basis: verdict.basis,
          guardBalanceMicros: r.look.guardMicros,
          ledgerBalanceMicros: r.look.ledgerMicros,
          driftMicros: verdict.driftMicros,
          firstDriftMicros: first.guardMicros - first.ledgerMicros,
        });
      }
    }
  }

  for (const [tenantId, l] of latest) {
    if (l.guardMicros < 0n) report.negative.push({ tenantId, balanceMicros: l.guardMicros, ledgerBalanceMicros: l.ledgerMicros });
  }
  report.ms = Date.now() - started;
  logReport(report);
  return report;
}

function logReport(report: ReconciliationReport): void {
  for (const d of report.drift) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "balance drift",
        tenant_id: d.tenantId,
        basis: d.basis,
        drift_micros: jsonInt(d.driftMicros),
        guard_balance_micros: jsonInt(d.guardBalanceMicros),
        ledger_balance_micros: jsonInt(d.ledgerBalanceMicros),
        first_drift_micros: jsonInt(d.firstDriftMicros),
      }),
    );
  }
  for (const n of report.negative) {
    console.error(JSON.stringify({ level: "error", msg: "negative balance", tenant_id: n.tenantId, balance_micros: jsonInt(n.balanceMicros), ledger_balance_micros: jsonInt(n.ledgerBalanceMicros) }));
  }
  for (const u of report.unreachable) console.warn(JSON.stringify({ level: "warn", msg: "reconciliation: guard unreachable", tenant_id: u.tenantId, error: u.error }));
  console.log(
    JSON.stringify({
      level: report.drift.length > 0 ? "warn" : "info",
      msg: "reconciliation",
      tenants: report.tenants,
      in_agreement: report.inAgreement,
      in_flight: report.inFlight.length,
      drift: report.drift.length,
      negative: report.negative.length,
      unreachable: report.unreachable.length,
      ms: report.ms,
    }),
  );
}

/** The cron entry: its own database handle, released before returning. */
export async function runReconciliation(env: Env, options: ReconcileOptions = {}): Promise<ReconciliationReport> {
  const handle = createDb(env, { max: 2 });
  try {
    return await reconcileBalances(env, handle.db, options);
  } finally {
    await handle.dispose();
  }
}
