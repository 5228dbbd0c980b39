// Exact budget books: a sliding 60-second log (requests and tokens, as TenantGuard's rate windows keep
// them), open concurrency slots and a prepaid balance with reservations. The oracle keeps one per tenant
// as the truth; today's TenantGuard model keeps its own (they part when a request is admitted without
// the object, under a fail-open policy); a lease's home keeps its grants in the same log.
export const WINDOW_MS = 60_000;

/** A time-ordered log of (time, requests, tokens) with running sums over the last `windowMs`. */
export class WindowLog {
  #cap = 64;
  #t = new Float64Array(this.#cap);
  #r = new Float64Array(this.#cap);
  #k = new Float64Array(this.#cap);
  #head = 0;
  #size = 0;
  requests = 0;
  tokens = 0;

  constructor(windowMs = WINDOW_MS) {
    this.windowMs = windowMs;
  }

  /** Drops entries at or before now - windowMs. */
  prune(now) {
    const cutoff = now - this.windowMs;
    while (this.#size > 0 && this.#t[this.#head] <= cutoff) {
      this.requests -= this.#r[this.#head];
      this.tokens -= this.#k[this.#head];
      this.#head = (this.#head + 1) % this.#cap;
      this.#size--;
    }
    if (this.#size === 0) this.requests = this.tokens = 0;
  }

  push(t, requests, tokens) {
    if (this.#size === this.#cap) this.#grow();
    const i = (this.#head + this.#size) % this.#cap;
    this.#t[i] = t;
    this.#r[i] = requests;
    this.#k[i] = tokens;
    this.#size++;
    this.requests += requests;
    this.tokens += tokens;
  }

  /** Takes back units pushed at time t (a returned lease), newest entries first. */
  takeBack(t, requests, tokens) {
    for (let n = this.#size - 1; n >= 0 && (requests > 0 || tokens > 0); n--) {
      const i = (this.#head + n) % this.#cap;
      if (this.#t[i] !== t) continue;
      const r = Math.min(requests, this.#r[i]);
      const k = Math.min(tokens, this.#k[i]);
      this.#r[i] -= r;
      this.#k[i] -= k;
      this.requests -= r;
      this.tokens -= k;
      requests -= r;
      tokens -= k;
    }
  }

  /** When the oldest entry leaves the window (ms), or 0 when empty. */
  oldestExpiry() {
    return this.#size === 0 ? 0 : this.#t[this.#head] + this.windowMs;
  }

  #grow() {
    const cap = this.#cap * 2;
    for (const name of ["t", "r", "k"]) {
      const old = name === "t" ? this.#t : name === "r" ? this.#r : this.#k;
      const next = new Float64Array(cap);
      for (let n = 0; n < this.#size; n++) next[n] = old[(this.#head + n) % this.#cap];
      if (name === "t") this.#t = next;
      else if (name === "r") this.#r = next;
      else this.#k = next;
    }
    this.#head = 0;
    this.#cap = cap;
  }
}

export const REFUSED = { rpm: 1, tpm: 2, slots: 4, balance: 8 };

/** One tenant's limits as its single authoritative object enforces them (and as the oracle checks them). */
export class TenantBook {
  constructor(tenant) {
    this.tenant = tenant;
    this.log = new WindowLog();
    this.open = 0;
    this.reserved = 0;
    this.spent = 0;
  }

  /** 0 when `w` requests of `tokens` each fit at time t; otherwise the REFUSED bits of what does not. */
  refusal(t, w, tokens, cost) {
    const tenant = this.tenant;
    this.log.prune(t);
    let bits = 0;
    if (tenant.rpm > 0 && this.log.requests + w > tenant.rpm) bits |= REFUSED.rpm;
    if (tenant.tpm > 0 && this.log.tokens + w * tokens > tenant.tpm) bits |= REFUSED.tpm;
    if (tenant.slots > 0 && this.open + w > tenant.slots) bits |= REFUSED.slots;
    if (this.spent + this.reserved + w * cost > tenant.balance) bits |= REFUSED.balance;
    return bits;
  }

  commit(t, w, tokens, cost) {
    this.log.push(t, w, w * tokens);
    this.open += w;
    this.reserved += w * cost;
  }

  /** The request ended: its reservation becomes the real charge, its slot frees. */
  settle(w, estCost, actualCost) {
    this.open -= w;
    this.reserved -= w * estCost;
    this.spent += w * actualCost;
  }
}
