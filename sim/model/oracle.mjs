// The truth about every budget, kept apart from any design's objects: each admitted request is checked
// against its tenant's limits and balance as one exact authority would see them at that moment, and
// against the global bucket. A request admitted past any of them is over-admitted.
import { TenantBook, WINDOW_MS, WindowLog } from "./budgets.mjs";

export class Oracle {
  overAdmitted = 0;
  /** Requests a design refused for a limit although they were within it (leases are conservative). */
  underAdmitted = 0;
  overByBudget = { rpm: 0, tpm: 0, slots: 0, balance: 0, global: 0 };
  admitted = 0;
  #books = [];
  #globalMode;
  #globalLimit;
  #globalLog = new WindowLog(WINDOW_MS);
  #fixedWindow = -1;
  #fixedCount = 0;
  #clock = 0;
  #globalClock = 0;

  /** `globalMode`: "fixed" (60-s windows, today's bucket) or "sliding" (any 60 s, the proposed leases). */
  constructor(world, globalMode) {
    this.world = world;
    this.#globalMode = globalMode;
    this.#globalLimit = world.globalRpm;
  }

  book(tenantId) {
    return (this.#books[tenantId] ??= new TenantBook(this.world.tenants[tenantId]));
  }

  /**
   * A design's object admitted `w` requests of a tenant at time t (its decision time): checked against the
   * tenant's limits and balance. Returns the REFUSED bits that were exceeded (0: within every budget).
   */
  admitTenant(tenantId, t, w, tokens, cost) {
    const book = this.book(tenantId);
    const bits = book.refusal(Math.max(t, this.#clock), w, tokens, cost);
    this.#clock = Math.max(this.#clock, t);
    book.commit(this.#clock, w, tokens, cost);
    return bits;
  }

  /** The same requests, counted against the global bucket at the time it was decided; true when over. */
  admitGlobal(t, w) {
    return this.#takeGlobal(t, w);
  }

  /** A design refused `w` requests for a tenant limit at time t: counted when the truth had room for them. */
  refusedTenant(tenantId, t, w, tokens, cost) {
    if (this.book(tenantId).refusal(Math.max(t, this.#clock), w, tokens, cost) === 0) this.underAdmitted += w;
  }

  /** Counts one admission's verdict: a request over any budget is over-admitted once. */
  verdict(w, bits, globalOver) {
    this.admitted += w;
    if (bits === 0 && !globalOver) return false;
    this.overAdmitted += w;
    if (bits & 1) this.overByBudget.rpm += w;
    if (bits & 2) this.overByBudget.tpm += w;
    if (bits & 4) this.overByBudget.slots += w;
    if (bits & 8) this.overByBudget.balance += w;
    if (globalOver) this.overByBudget.global += w;
    return true;
  }

  /** The admitted requests ended (settled or released): the slot frees, the reservation becomes the charge. */
  end(tenantId, w, estCost, actualCost) {
    this.book(tenantId).settle(w, estCost, actualCost);
  }

  #takeGlobal(time, w) {
    // Decisions reach the oracle in event order, to the millisecond: its clock never goes back.
    const t = (this.#globalClock = Math.max(this.#globalClock, time));
    if (this.#globalMode === "sliding") {
      this.#globalLog.prune(t);
      const over = this.#globalLog.requests + w > this.#globalLimit;
      this.#globalLog.push(t, w, 0);
      return over;
    }
    const window = Math.floor(t / WINDOW_MS);
    if (window !== this.#fixedWindow) {
      this.#fixedWindow = window;
      this.#fixedCount = 0;
    }
    this.#fixedCount += w;
    return this.#fixedCount > this.#globalLimit;
  }
}
