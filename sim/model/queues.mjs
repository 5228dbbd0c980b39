// Queue messages and ledger rows. Events are packed per emitter (an isolate today; an isolate or a
// regional object in the proposed design): a pack opens with its first event, closes after `windowMs`
// or when full (63 KB: about 140 billing or 52 audit events), and is one queue message.
export const BILLING_PER_PACK = 140;
export const AUDIT_PER_PACK = 52;
/** Ledger consumer batches (wrangler.toml max_batch_size): one batch, one write, per 100 messages or less. */
const CONSUMER_BATCH = 100;

export class PackCounter {
  #closesAt;
  #inPack;
  messages = 0;
  events = 0;

  constructor(emitters, windowMs, perPack) {
    this.windowMs = windowMs;
    this.perPack = perPack;
    this.#closesAt = new Float64Array(emitters).fill(-1);
    this.#inPack = new Float64Array(emitters);
  }

  ensure(emitters) {
    if (emitters <= this.#closesAt.length) return;
    const closes = new Float64Array(emitters * 2).fill(-1);
    closes.set(this.#closesAt);
    const inPack = new Float64Array(emitters * 2);
    inPack.set(this.#inPack);
    this.#closesAt = closes;
    this.#inPack = inPack;
  }

  /** `n` events from emitter `e` at time t; returns the queue messages this started. */
  emit(e, t, n) {
    this.events += n;
    let started = 0;
    if (t >= this.#closesAt[e]) {
      this.#closesAt[e] = t + this.windowMs;
      this.#inPack[e] = 0;
      started = 1;
    }
    this.#inPack[e] += n;
    if (this.#inPack[e] > this.perPack) {
      const extra = Math.ceil(this.#inPack[e] / this.perPack) - 1;
      started += extra;
      this.#inPack[e] -= extra * this.perPack;
    }
    this.messages += started;
    return started;
  }
}

/** Per-second series of queue messages and ledger rows for one design run. */
export class LedgerMeter {
  series = [];
  #billingMsgs = 0;
  #auditMsgs = 0;
  #billingRows = 0;
  #auditRows = 0;

  billing(messages, rows) {
    this.#billingMsgs += messages;
    this.#billingRows += rows;
  }

  audit(messages, rows) {
    this.#auditMsgs += messages;
    this.#auditRows += rows;
  }

  endSecond(second) {
    this.series.push({
      second,
      billingMsgs: this.#billingMsgs,
      auditMsgs: this.#auditMsgs,
      ledgerRows: this.#billingRows + this.#auditRows,
      ledgerWrites: Math.ceil(this.#billingMsgs / CONSUMER_BATCH) + Math.ceil(this.#auditMsgs / CONSUMER_BATCH),
    });
    this.#billingMsgs = this.#auditMsgs = this.#billingRows = this.#auditRows = 0;
  }
}
