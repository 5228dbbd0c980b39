// An upstream target's concurrency slots, kept beside its breaker (one UpstreamHealth object per target).
// A slot is a row per request in flight, so an eviction forgets none; it is freed by release() from the
// request's completion, or by its expiry if the isolate holding it died. A request is granted a slot while
// the target's requests in flight are below its priority class's share of the limit (priority-classes.ts),
// so lower classes are shed first and the interactive ones keep the last slots. Requests of a tenant whose
// policy queues wait here, bounded in length and time, and freed slots go to the waiting tenant with the
// fewest slots per unit of weight (weighted fair sharing across tenants), oldest first within a tenant.
import { PRIORITY_CLASSES, classSlots, type PriorityClass } from "../../src/backpressure/priority-classes";
import type { SlotGrant, SlotRequest, SlotState } from "./types";

/** A slot whose release never came (the isolate died) is freed this long after it was granted, like a hold. */
export const SLOT_TTL_MS = 600_000;
/** However many tenants wait, the target's queue holds at most this many requests. */
export const TARGET_QUEUE_MAX = 1_000;
/** A slot frees when some request ends, which cannot be foreseen: retry shortly. */
const RETRY_AFTER_MS = 1_000;

interface Slot {
  tenant: string;
  cls: PriorityClass;
  expiresAt: number;
}

interface Waiter {
  req: SlotRequest;
  resolve: (grant: SlotGrant) => void;
  timer: ReturnType<typeof setTimeout>;
  seq: number;
}

export class TargetSlots {
  #sql: SqlStorage;
  /** In grant order, which is expiry order (one TTL for all). */
  #slots = new Map<string, Slot>();
  #byTenant = new Map<string, number>();
  #waiters: Waiter[] = [];
  #seq = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    for (const row of sql.exec<{ request_id: string; tenant: string; class: string; expires_at: number }>(`SELECT * FROM slots ORDER BY expires_at`)) {
      this.#track(row.request_id, { tenant: row.tenant, cls: row.class as PriorityClass, expiresAt: row.expires_at });
    }
  }

  /** A slot for the request, at once, after a wait (queue policy), or a refusal saying how full the target is. */
  acquire(req: SlotRequest, now: number): SlotGrant | Promise<SlotGrant> {
    this.#expire(now);
    if (this.#slots.has(req.requestId)) return { granted: true, inFlight: this.#slots.size };
    if (this.#fits(req)) return this.#grant(req, now);
    const refusal = this.#refusal(req);
    const queue = req.queue;
    if (queue === undefined || this.#waiters.length >= TARGET_QUEUE_MAX) return refusal;
    if (this.#waiters.filter((w) => w.req.tenantId === req.tenantId).length >= queue.maxLength) return refusal;
    return new Promise((resolve) => {
      const waiter: Waiter = { req, resolve, seq: this.#seq++, timer: setTimeout(() => (this.#drop(waiter), resolve(this.#refusal(req))), queue.maxWaitMs) };
      this.#waiters.push(waiter);
    });
  }

  release(requestId: string, now: number): boolean {
    const slot = this.#slots.get(requestId);
    if (slot === undefined) return false;
    this.#sql.exec(`DELETE FROM slots WHERE request_id = ?`, requestId);
    this.#untrack(requestId, slot);
    this.#expire(now);
    this.#offer(now);
    return true;
  }

  state(now: number): SlotState {
    this.#expire(now);
    const byClass: Partial<Record<PriorityClass, number>> = {};
    for (const slot of this.#slots.values()) byClass[slot.cls] = (byClass[slot.cls] ?? 0) + 1;
    return { inFlight: this.#slots.size, queued: this.#waiters.length, byClass, byTenant: Object.fromEntries(this.#byTenant) };
  }

  #fits(req: SlotRequest): boolean {
    return this.#slots.size < classSlots(req.priority, req.limit);
  }

  #refusal(req: SlotRequest): SlotGrant {
    return { granted: false, inFlight: this.#slots.size, allowed: classSlots(req.priority, req.limit), retryAfterMs: RETRY_AFTER_MS };
  }

  #grant(req: SlotRequest, now: number): SlotGrant {
    const slot: Slot = { tenant: req.tenantId, cls: req.priority, expiresAt: now + SLOT_TTL_MS };
    this.#sql.exec(`INSERT INTO slots (request_id, tenant, class, expires_at) VALUES (?, ?, ?, ?)`, req.requestId, slot.tenant, slot.cls, slot.expiresAt);
    this.#track(req.requestId, slot);
    return { granted: true, inFlight: this.#slots.size };
  }

  /** Freed slots go to the waiters that fit: the tenant with the fewest slots per weight first, then the oldest. */
  #offer(now: number): void {
    for (;;) {
      let best: Waiter | undefined;
      let bestShare = Infinity;
      for (const w of this.#waiters) {
        if (!this.#fits(w.req)) continue;
        const share = (this.#byTenant.get(w.req.tenantId) ?? 0) / w.req.weight;
        if (share < bestShare || (share === bestShare && w.seq < best!.seq)) {
          best = w;
          bestShare = share;
        }
      }
      if (best === undefined) return;
      this.#drop(best);
      clearTimeout(best.timer);
      best.resolve(this.#grant(best.req, now));
    }
  }

  /** Slots whose release never came: freed at their expiry, and offered to the waiters. */
  #expire(now: number): void {
    let freed = 0;
    for (const [id, slot] of this.#slots) {
      if (slot.expiresAt > now) break;
      this.#untrack(id, slot);
      freed += 1;
    }
    if (freed === 0) return;
    this.#sql.exec(`DELETE FROM slots WHERE expires_at <= ?`, now);
    this.#offer(now);
  }

  #track(id: string, slot: Slot): void {
    this.#slots.set(id, slot);
    this.#byTenant.set(slot.tenant, (this.#byTenant.get(slot.tenant) ?? 0) + 1);
  }

  #untrack(id: string, slot: Slot): void {
    this.#slots.delete(id);
    const n = (this.#byTenant.get(slot.tenant) ?? 1) - 1;
    if (n === 0) this.#byTenant.delete(slot.tenant);
    else this.#byTenant.set(slot.tenant, n);
  }

  #drop(waiter: Waiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
  }
}

/** A malformed call is a caller bug: it throws (the object trusts no caller). */
export function checkSlotRequest(req: SlotRequest): void {
  const id = (v: unknown, name: string) => {
    if (typeof v !== "string" || v.length === 0 || v.length > 256) throw new TypeError(`${name} must be a non-empty string of at most 256 characters`);
  };
  id(req.requestId, "requestId");
  id(req.tenantId, "tenantId");
  if (typeof req.priority !== "string" || !Object.hasOwn(PRIORITY_CLASSES, req.priority)) throw new TypeError("priority must be a priority class");
  if (!Number.isSafeInteger(req.limit) || req.limit < 1) throw new TypeError("limit must be a positive integer");
  if (typeof req.weight !== "number" || !(req.weight > 0) || !Number.isFinite(req.weight)) throw new TypeError("weight must be a positive number");
  const q = req.queue;
  if (q !== undefined && (!Number.isSafeInteger(q.maxLength) || q.maxLength < 1 || !Number.isSafeInteger(q.maxWaitMs) || q.maxWaitMs < 1 || q.maxWaitMs > 60_000)) {
    throw new TypeError("queue bounds out of range");
  }
  if (req.now !== undefined && !Number.isFinite(req.now)) throw new TypeError("now must be a finite number");
}
