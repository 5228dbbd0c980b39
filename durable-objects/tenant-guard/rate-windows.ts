// Exact per-minute sliding-log rate limits (requests and tokens) for the tenant, key and IP levels.
//
// Accuracy guarantee: every admitted request is logged with its admission time, and a request is
// admitted only if, counting every request admitted in the half-open window (now - 60 s, now], the
// level stays within its limit. So for ANY 60-second interval (not just aligned minutes) the admitted
// requests never exceed requests_per_minute, and the tokens counted at admission (the estimate,
// replaced by the real count at settlement) never exceed tokens_per_minute. There is no
// approximation (unlike fixed windows, which allow 2x at a boundary, or weighted sliding windows,
// which assume an even spread). The only excess possible is a settlement reporting more tokens than
// its estimate: later admissions then see the real count, so the overshoot is at most that one
// request's excess. The cost is memory proportional to the requests admitted in the last minute.
import { fail, type GatewayFailure } from "../../src/errors";
import type { LimitRule, RateLimitSnapshot } from "../../src/guard/types";

export const WINDOW_MS = 60_000;

export interface WindowEntry {
  readonly id: string;
  readonly at: number;
  /** Tokens counted for this request: the estimate while open, the real count once settled, 0 once released. */
  tokens: number;
  readonly logs: SubjectLog[];
}

/** A time-ordered deque of entries with running sums; entries leave from the front only. */
class SubjectLog {
  constructor(readonly subject: string) {}
  #items: WindowEntry[] = [];
  #head = 0;
  requests = 0;
  tokens = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  item(index: number): WindowEntry {
    return this.#items[this.#head + index]!;
  }

  push(entry: WindowEntry): void {
    this.#items.push(entry);
    this.requests += 1;
    this.tokens += entry.tokens;
  }

  shift(): void {
    const entry = this.#items[this.#head]!;
    this.#head += 1;
    this.requests -= 1;
    this.tokens -= entry.tokens;
    // Compact now and then so shifting stays O(1) amortized without unbounded garbage.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

export interface Level {
  name: "tenant" | "key" | "ip";
  subject: string;
  rule: LimitRule | undefined;
}

export type RateVerdict =
  | { ok: true; snapshot: RateLimitSnapshot }
  | { ok: false; failure: GatewayFailure; snapshot: RateLimitSnapshot };

/** The levels a request counts against; the subject names a sliding log (channels never share logs). */
export function levelsOf(channel: string, keyId: string, ip: string | null, limits: { tenant?: LimitRule; key?: LimitRule; ip?: LimitRule }): Level[] {
  const levels: Level[] = [
    { name: "tenant", subject: `${channel}|t`, rule: limits.tenant },
    { name: "key", subject: `${channel}|k|${keyId}`, rule: limits.key },
  ];
  if (ip !== null) levels.push({ name: "ip", subject: `${channel}|i|${ip}`, rule: limits.ip });
  return levels;
}

export class RateWindows {
  #logs = new Map<string, SubjectLog>();
  #all = new SubjectLog("");
  #byId = new Map<string, WindowEntry>();

  /** Drops every entry at or before now - WINDOW_MS; entries leave every log in the same (time) order. */
  prune(now: number): void {
    const cutoff = now - WINDOW_MS;
    while (this.#all.size > 0 && this.#all.item(0).at <= cutoff) {
      const entry = this.#all.item(0);
      this.#all.shift();
      this.#byId.delete(entry.id);
      for (const log of entry.logs) {
        log.shift();
        if (log.size === 0) this.#forget(log);
      }
    }
  }

  /** Callers add in non-decreasing `at` order (the guard's clock is monotonic). */
  add(id: string, at: number, tokens: number, subjects: string[]): void {
    const logs = subjects.map((subject) => this.#logFor(subject));
    const entry: WindowEntry = { id, at, tokens, logs };
    this.#all.push(entry);
    for (const log of logs) log.push(entry);
    this.#byId.set(id, entry);
  }

  /** Replaces the tokens a request counts for, if it is still inside the window. */
  setTokens(id: string, tokens: number): void {
    const entry = this.#byId.get(id);
    if (entry === undefined) return;
    const delta = tokens - entry.tokens;
    entry.tokens = tokens;
    for (const log of entry.logs) log.tokens += delta;
    this.#all.tokens += delta;
  }

  /**
   * Checks every level; on success the snapshot already counts this request. Call prune(now) first.
   * A refusal names the first limit hit (tenant, key, ip; requests before tokens) but waits for the
   * slowest: Retry-After is the exact moment every limit hit now has room again (barring new traffic).
   */
  evaluate(levels: Level[], estimateTokens: number, now: number): RateVerdict {
    let first: Violation | undefined;
    let waitMs = 0;
    for (const level of levels) {
      for (const v of this.#violations(level, estimateTokens, now)) {
        first ??= v;
        waitMs = Math.max(waitMs, v.waitMs);
      }
    }
    if (first === undefined) return { ok: true, snapshot: this.snapshot(levels, now, 1, estimateTokens) };
    const ms = Math.max(1, Math.ceil(waitMs));
    const failure = fail(first.kind, first.message, { retryAfterSeconds: Math.ceil(ms / 1000), headers: { "retry-after-ms": String(ms) } });
    return { ok: false, failure, snapshot: this.snapshot(levels, now, 0, 0) };
  }

  /** The most restrictive level for requests and for tokens, as if `plusRequests`/`plusTokens` were added. */
  snapshot(levels: Level[], now: number, plusRequests: number, plusTokens: number): RateLimitSnapshot {
    const out: RateLimitSnapshot = {};
    for (const level of levels) {
      const log = this.#logs.get(level.subject);
      const oldestMs = log !== undefined && log.size > 0 ? log.item(0).at + WINDOW_MS - now : plusRequests > 0 ? WINDOW_MS : 0;
      const rpm = level.rule?.requests_per_minute;
      if (rpm !== undefined) {
        const remaining = Math.max(0, rpm - (log?.requests ?? 0) - plusRequests);
        if (out.remainingRequests === undefined || remaining < out.remainingRequests) {
          Object.assign(out, { limitRequests: rpm, remainingRequests: remaining, resetRequestsMs: oldestMs });
        }
      }
      const tpm = level.rule?.tokens_per_minute;
      if (tpm !== undefined) {
        const remaining = Math.max(0, tpm - (log?.tokens ?? 0) - plusTokens);
        if (out.remainingTokens === undefined || remaining < out.remainingTokens) {
          Object.assign(out, { limitTokens: tpm, remainingTokens: remaining, resetTokensMs: oldestMs });
        }
      }
    }
    return out;
  }

  *#violations(level: Level, estimateTokens: number, now: number): Generator<Violation> {
    const log = this.#logs.get(level.subject);
    const rpm = level.rule?.requests_per_minute;
    if (rpm !== undefined && (log?.requests ?? 0) + 1 > rpm) {
      // The (count - rpm + 1) oldest requests must leave the window before one more fits.
      const waitMs = rpm <= 0 || log === undefined ? WINDOW_MS : log.item(log.requests - rpm).at + WINDOW_MS - now;
      yield { kind: "rate_limit_exceeded", message: `Rate limit reached for ${level.name} requests per minute (limit ${rpm}).`, waitMs };
    }
    const tpm = level.rule?.tokens_per_minute;
    if (tpm !== undefined && (log?.tokens ?? 0) + estimateTokens > tpm) {
      const message =
        estimateTokens > tpm
          ? `This request's estimated ${estimateTokens} tokens exceed the ${level.name} limit of ${tpm} tokens per minute; lower max_tokens or the input size.`
          : `Rate limit reached for ${level.name} tokens per minute (limit ${tpm}).`;
      yield { kind: "tokens_rate_limit_exceeded", message, waitMs: estimateTokens > tpm ? WINDOW_MS : tokenWaitMs(log!, tpm, estimateTokens, now) };
    }
  }

  /** Every counted request as [id, at, tokens], oldest first (tests and diagnostics). */
  entries(): [string, number, number][] {
    const out: [string, number, number][] = [];
    for (let i = 0; i < this.#all.size; i++) {
      const e = this.#all.item(i);
      out.push([e.id, e.at, e.tokens]);
    }
    return out;
  }

  /** How many subjects (tenant / key / IP logs) currently hold requests. */
  subjectCount(): number {
    return this.#logs.size;
  }

  #logFor(subject: string): SubjectLog {
    let log = this.#logs.get(subject);
    if (log === undefined) {
      log = new SubjectLog(subject);
      this.#logs.set(subject, log);
    }
    return log;
  }

  #forget(log: SubjectLog): void {
    if (this.#logs.get(log.subject) === log) this.#logs.delete(log.subject);
  }
}

/** Time until enough of the oldest tokens leave the window for `estimate` more to fit. */
function tokenWaitMs(log: SubjectLog, limit: number, estimate: number, now: number): number {
  let remaining = log.tokens;
  for (let i = 0; i < log.size; i++) {
    const entry = log.item(i);
    remaining -= entry.tokens;
    if (remaining + estimate <= limit) return entry.at + WINDOW_MS - now;
  }
  return WINDOW_MS;
}

interface Violation {
  kind: "rate_limit_exceeded" | "tokens_rate_limit_exceeded";
  message: string;
  waitMs: number;
}
