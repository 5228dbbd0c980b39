// Quota counters (tenant- or key-scoped, per capability) with daily / monthly / never periods.
import { fail, type GatewayFailure } from "../../src/errors";
import type { GuardCapability, QuotaRule, QuotaUsage } from "../../src/guard/types";

/** What one admission reserved on one counter; settlement corrects it, release returns it. */
export interface Reservation {
  /** Counter key: rule id + subject. */
  k: string;
  t: QuotaRule["type"];
  /** Period start the amount was counted in; a correction after a reset does not touch the new period. */
  p: number;
  n: number;
}

interface Counter {
  ruleId: string;
  /** The key id for key scope, "" for tenant scope. */
  subject: string;
  type: QuotaRule["type"];
  period: QuotaRule["period"];
  timeZone: string;
  periodStart: number;
  used: number;
  limit: number;
}

type CounterRow = {
  rule_id: string;
  subject: string;
  type: string;
  period: string;
  time_zone: string;
  period_start: number;
  used: number;
  limit_value: number;
};

export type QuotaPlan = { ok: true; counters: Counter[]; reservations: Reservation[] } | { ok: false; failure: GatewayFailure };

const UPSERT = `INSERT INTO quota_counters (rule_id, subject, type, period, time_zone, period_start, used, limit_value)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (rule_id, subject) DO UPDATE SET type = excluded.type, period = excluded.period, time_zone = excluded.time_zone,
    period_start = excluded.period_start, used = excluded.used, limit_value = excluded.limit_value`;

/** The counters, cached in memory and written through to SQLite. */
export class QuotaBook {
  #sql: SqlStorage;
  #counters = new Map<string, Counter>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): void {
    this.#counters.clear();
    for (const row of this.#sql.exec<CounterRow>(`SELECT * FROM quota_counters`)) {
      const counter: Counter = {
        ruleId: row.rule_id,
        subject: row.subject,
        type: row.type as Counter["type"],
        period: row.period as Counter["period"],
        timeZone: row.time_zone,
        periodStart: row.period_start,
        used: row.used,
        limit: row.limit_value,
      };
      this.#counters.set(counterKey(counter.ruleId, counter.subject), counter);
    }
  }

  /** Decides without writing: every applicable rule must have room for this request's amount. */
  plan(rules: QuotaRule[], keyId: string, capability: GuardCapability, estimate: { tokens: number; costMicros: number }, now: number): QuotaPlan {
    const counters: Counter[] = [];
    const reservations: Reservation[] = [];
    for (const rule of rules) {
      if (rule.capability !== undefined && rule.capability !== capability) continue;
      const subject = rule.scope === "key" ? keyId : "";
      const key = counterKey(rule.id, subject);
      const timeZone = rule.timeZone ?? "UTC";
      const start = periodStart(now, rule.period, timeZone);
      const current = this.#counters.get(key);
      const sameSeries = current !== undefined && current.periodStart === start && current.type === rule.type && current.period === rule.period && current.timeZone === timeZone;
      const used = sameSeries ? current.used : 0;
      const amount = rule.type === "requests" ? 1 : rule.type === "tokens" ? estimate.tokens : estimate.costMicros;
      if (used + amount > rule.limit) return { ok: false, failure: quotaFailure(rule, used, now, timeZone) };
      counters.push({ ruleId: rule.id, subject, type: rule.type, period: rule.period, timeZone, periodStart: start, used: used + amount, limit: rule.limit });
      reservations.push({ k: key, t: rule.type, p: start, n: amount });
    }
    return { ok: true, counters, reservations };
  }

  commit(counters: Counter[]): void {
    for (const counter of counters) this.#write(counter);
  }

  /** Moves a reservation's counter by `delta`, unless that counter has since started a new period. */
  adjust(reservation: Reservation, delta: number): void {
    const counter = this.#counters.get(reservation.k);
    if (counter === undefined || counter.periodStart !== reservation.p || counter.type !== reservation.t || delta === 0) return;
    this.#write({ ...counter, used: Math.max(0, counter.used + delta) });
  }

  usage(now: number): QuotaUsage[] {
    return [...this.#counters.values()].map((c) => {
      const start = periodStart(now, c.period, c.timeZone);
      return {
        id: c.ruleId,
        scope: c.subject === "" ? "tenant" : "key",
        subject: c.subject === "" ? null : c.subject,
        type: c.type,
        period: c.period,
        used: start === c.periodStart ? c.used : 0,
        limit: c.limit,
        periodStart: start,
      };
    });
  }

  #write(c: Counter): void {
    this.#sql.exec(UPSERT, c.ruleId, c.subject, c.type, c.period, c.timeZone, c.periodStart, c.used, c.limit);
    this.#counters.set(counterKey(c.ruleId, c.subject), c);
  }
}

/** The real amount a settlement counts against a reservation of type `type`. */
export function actualAmount(type: QuotaRule["type"], tokens: number, costMicros: number): number {
  return type === "requests" ? 1 : type === "tokens" ? tokens : costMicros;
}

function counterKey(ruleId: string, subject: string): string {
  return `${ruleId}\u0000${subject}`;
}

function quotaFailure(rule: QuotaRule, used: number, now: number, timeZone: string): GatewayFailure {
  const what = rule.type === "cost" ? "spend (micro-units)" : rule.type;
  const scope = rule.scope === "key" ? "API key" : "tenant";
  if (rule.period === "never") {
    return fail("quota_exceeded", `The ${scope} quota "${rule.id}" for ${what} is used up (${used} of ${rule.limit}).`);
  }
  const next = nextPeriodStart(now, rule.period, timeZone);
  return fail(
    rule.period === "daily" ? "daily_quota_exceeded" : "monthly_quota_exceeded",
    `The ${rule.period} ${scope} quota "${rule.id}" for ${what} is used up (${used} of ${rule.limit}); it resets at ${new Date(next).toISOString()}.`,
    { retryAfterSeconds: Math.ceil((next - now) / 1000) },
  );
}

/** Start (ms) of the period holding `now`: midnight of the day / first of the month in `timeZone`; 0 for never. */
export function periodStart(now: number, period: QuotaRule["period"], timeZone = "UTC"): number {
  if (period === "never") return 0;
  const d = localDate(now, timeZone);
  return localMidnight(d.year, d.month, period === "daily" ? d.day : 1, timeZone);
}

export function nextPeriodStart(now: number, period: "daily" | "monthly", timeZone = "UTC"): number {
  const d = localDate(now, timeZone);
  return period === "daily" ? localMidnight(d.year, d.month, d.day + 1, timeZone) : localMidnight(d.year, d.month + 1, 1, timeZone);
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(timeZone: string): Intl.DateTimeFormat | null {
  if (timeZone === "UTC") return null;
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      f = null; // an unknown zone counts in UTC rather than failing admissions
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Milliseconds the zone's wall clock is ahead of UTC at instant t. */
function offsetMs(t: number, timeZone: string): number {
  const f = formatterFor(timeZone);
  if (f === null) return 0;
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(t))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

function localDate(t: number, timeZone: string): { year: number; month: number; day: number } {
  const wall = new Date(t + offsetMs(t, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth(), day: wall.getUTCDate() };
}

/** The instant of local midnight; month/day may overflow (Date.UTC normalizes them). */
function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month, day);
  if (formatterFor(timeZone) === null) return wall;
  const guess = wall - offsetMs(wall, timeZone);
  return wall - offsetMs(guess, timeZone);
}
