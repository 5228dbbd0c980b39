// Concurrency slots: a request in flight is an open hold, so the slots a tenant (or service) and each key
// use are counted from the open holds, kept in step by HoldBook. A slot is taken by the same admit() that
// opens the hold and freed by whatever closes it (settle, release, expiry): no separate lease to leak.
import { fail } from "../../src/errors";
import type { AdmissionRequest, RateLimitSnapshot } from "../../src/guard/types";

/** A slot frees when some request in flight ends, which cannot be foreseen: retry shortly. */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 1;

const tenantSubject = (channel: string) => `${channel}|t`;
const keySubject = (channel: string, keyId: string) => `${channel}|k|${keyId}`;

export class InFlight {
  #counts = new Map<string, number>();

  add(hold: { channel: string; keyId: string }): void {
    this.#bump(tenantSubject(hold.channel), 1);
    this.#bump(keySubject(hold.channel, hold.keyId), 1);
  }

  remove(hold: { channel: string; keyId: string }): void {
    this.#bump(tenantSubject(hold.channel), -1);
    this.#bump(keySubject(hold.channel, hold.keyId), -1);
  }

  clear(): void {
    this.#counts.clear();
  }

  ofChannel(channel: string): number {
    return this.#counts.get(tenantSubject(channel)) ?? 0;
  }

  ofKey(channel: string, keyId: string): number {
    return this.#counts.get(keySubject(channel, keyId)) ?? 0;
  }

  #bump(subject: string, by: number): void {
    const n = (this.#counts.get(subject) ?? 0) + by;
    if (n <= 0) this.#counts.delete(subject);
    else this.#counts.set(subject, n);
  }
}

export type SlotVerdict = { ok: true; snapshot: RateLimitSnapshot } | { ok: false; snapshot: RateLimitSnapshot; level: "tenant" | "key" };

/** Whether one more request of `req` fits under its caps; the snapshot counts it when it does. */
export function checkSlots(inFlight: InFlight, req: Pick<AdmissionRequest, "channel" | "keyId" | "concurrency">): SlotVerdict {
  const caps = req.concurrency;
  const snapshot: RateLimitSnapshot = {};
  if (caps === undefined) return { ok: true, snapshot };
  const levels: { level: "tenant" | "key"; cap: number | undefined; used: number }[] = [
    { level: "tenant", cap: caps.tenant, used: inFlight.ofChannel(req.channel) },
    { level: "key", cap: caps.key, used: inFlight.ofKey(req.channel, req.keyId) },
  ];
  let full: "tenant" | "key" | undefined;
  for (const { level, cap, used } of levels) {
    if (cap === undefined) continue;
    if (used >= cap) full ??= level;
    const remaining = Math.max(0, cap - used - 1);
    if (snapshot.remainingConcurrency === undefined || remaining < snapshot.remainingConcurrency) {
      snapshot.limitConcurrency = cap;
      snapshot.remainingConcurrency = remaining;
    }
  }
  if (full === undefined) return { ok: true, snapshot };
  // A refusal counts nothing: what is left is what is free now (0 at the full level).
  return { ok: false, level: full, snapshot: { ...snapshot, remainingConcurrency: 0 } };
}

export function concurrencyRefusal(level: "tenant" | "key", cap: number | undefined, channel: string) {
  const who = level === "key" ? (channel === "internal" ? "service token" : "API key") : channel === "internal" ? "service" : "tenant";
  return fail("concurrency_limit_exceeded", `Too many requests in flight for this ${who} (limit ${cap}); retry when one of them has finished.`, {
    retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS,
  });
}
