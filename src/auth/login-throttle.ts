// Failed admin logins, throttled per source and under one global ceiling (the AdminAccess Durable
// Object keeps the counters; these are the rules). A source is a client address: IPv4 as is, IPv6 per
// /64 (one subscriber's allocation), IPv4-mapped IPv6 as IPv4; unparsable text or no address at all
// are one shared source each.
import { ipRateLimitBucket } from "../security/ip";

export interface ThrottleLimit {
  /** This many failures inside one window locks the subject. */
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

/**
 * Per source: 10 wrong tokens in 10 minutes lock that source out for 15 minutes, during which even the
 * right token is refused (so a guess that happens to be right is never confirmed). At most about 40
 * guesses per source per hour.
 */
export const SOURCE_LIMIT: ThrottleLimit = { maxFailures: 10, windowMs: 10 * 60_000, lockoutMs: 15 * 60_000 };

/**
 * Across all sources: 200 failures in 5 minutes (a guess spread over many addresses) lock the
 * break-glass ADMIN_TOKEN, the only admin credential an operator chooses and so the only one worth
 * guessing, for 15 minutes. Named tokens (generated, ~178 random bits) keep working, so a distributed
 * attack cannot lock every operator out.
 */
export const GLOBAL_LIMIT: ThrottleLimit = { maxFailures: 200, windowMs: 5 * 60_000, lockoutMs: 15 * 60_000 };

/** The name of the global counter; a source is an address, a CIDR, `unparsable` or `unknown`, so it cannot collide. */
export const GLOBAL_SUBJECT = "*";

export interface FailureCounter {
  windowStart: number;
  failures: number;
  /** 0 when not locked. */
  lockedUntil: number;
}

export const NO_FAILURES: FailureCounter = { windowStart: 0, failures: 0, lockedUntil: 0 };

export function lockedFor(counter: FailureCounter, now: number): number {
  return Math.max(0, counter.lockedUntil - now);
}

/** Counts one failure; `locked` is true when this failure started a lockout. */
export function countFailure(counter: FailureCounter, limit: ThrottleLimit, now: number): { next: FailureCounter; locked: boolean } {
  const fresh = now - counter.windowStart >= limit.windowMs;
  const next: FailureCounter = {
    windowStart: fresh ? now : counter.windowStart,
    failures: fresh ? 1 : counter.failures + 1,
    lockedUntil: counter.lockedUntil > now ? counter.lockedUntil : 0,
  };
  if (next.failures >= limit.maxFailures && next.lockedUntil === 0) {
    // A new window starts with the lockout, so the source gets a full set of tries only after it.
    return { next: { windowStart: now + limit.lockoutMs, failures: 0, lockedUntil: now + limit.lockoutMs }, locked: true };
  }
  return { next, locked: false };
}

/** The throttle's source for a client address (CF-Connecting-IP), bucketed like per-IP rate limits (src/security/ip.ts). */
export function loginSource(clientIp: string | null | undefined): string {
  const trimmed = clientIp?.trim();
  return trimmed ? ipRateLimitBucket(trimmed) : "unknown";
}
