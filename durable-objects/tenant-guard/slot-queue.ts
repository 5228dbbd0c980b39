// The `queue` policy's wait for a concurrency slot, inside the TenantGuard: admit() itself waits (still
// one round trip, just a longer one) until a hold closes and the request fits, or its time is up. The
// queue is bounded in length and in time; a request that fits is granted at once, oldest first, and one
// key at its cap does not hold back another key's waiters. Waiters live in memory only: they are calls
// in flight, so an object that restarts has none (their callers see the call fail and apply their policy).
import type { AdmissionRequest, AdmissionResult } from "../../src/guard/types";

interface Waiter {
  req: AdmissionRequest;
  resolve: (result: AdmissionResult) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class SlotQueue {
  #waiters: Waiter[] = [];

  get size(): number {
    return this.#waiters.length;
  }

  /**
   * Waits for a slot for `req`, which was just refused with `refusal`; resolves with the decision made when
   * one fits, or with the refusal once `maxWaitMs` passes. Undefined when the queue already holds `maxLength`.
   */
  wait(req: AdmissionRequest, refusal: AdmissionResult, queue: { maxLength: number; maxWaitMs: number }): Promise<AdmissionResult> | undefined {
    if (this.#waiters.length >= queue.maxLength) return undefined;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        req,
        resolve,
        timer: setTimeout(() => {
          this.#drop(waiter);
          resolve(refusal);
        }, queue.maxWaitMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Offers freed slots to the waiters, oldest first: `fits` is the cheap slot check, `decide` the full
   * admission (rate limits, quotas and balance may refuse it now). A decision other than another full slot ends the wait.
   */
  pump(fits: (req: AdmissionRequest) => boolean, decide: (req: AdmissionRequest) => AdmissionResult, stillFull: (result: AdmissionResult) => boolean): void {
    for (const waiter of [...this.#waiters]) {
      if (!fits(waiter.req)) continue;
      const result = decide(waiter.req);
      if (stillFull(result)) continue;
      this.#drop(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(result);
    }
  }

  #drop(waiter: Waiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
  }
}
