// The messages that move leases between objects (refill, grant, return, recall), each one trip between
// the two objects' regions and one call on the receiving object. A refill that cannot arrive (a region
// cut off) times out; a grant or a return that cannot arrive is kept and sent again, so no unit is lost.
import { SERVICE_MS } from "../model/calibration.mjs";
import { B, LEASE, LeaseNode, WINDOWED, grantFor, wantOf } from "./leases.mjs";

const EV = { message: 60, refillFailed: 61 };
export const LEASE_EVENTS = EV;
const MSG = { refill: 1, grant: 2, return: 3, recall: 4, reconcile: 5 };
const RETRY_MS = 1000;
/** Requests, slots and global units move in whole units (tokens and balance need not). */
const whole = (b, units) => (b === B.req || b === B.slot || b === B.glob ? Math.floor(units + 1e-9) : units);
const RECONCILE_MS = 5000;
/** After a grant with less ahead-of-need than asked, a node asks again only for waiters, for this long. */
const SHORT_BACKOFF_MS = 1000;
/** A root out of a window budget tells its children to ask again this soon at the latest. */
const EXHAUSTED_RETRY_MS = 500;
const STARVED_TTL_MS = 5000;
/** A relay holds a child's unmet need this long while it asks its own parent. */
const WAITING_TTL_MS = 2000;

export class LeaseFlow {
  #messages = new Map();
  #nextId = 1;
  calls = { refill: 0, grant: 0, return: 0, recall: 0, reconcile: 0 };

  /** `design` gives events, objects, reachability, one-way delays and `needOf(node, b)` (waiters' needs). */
  constructor(design, minUnits) {
    this.d = design;
    this.minUnits = minUnits;
  }

  #send(type, from, to, body, t) {
    const d = this.d;
    if (!d.reachable(from.region, to.region, t)) {
      if (type === MSG.refill) {
        const ev = d.events.at(t + 2000, EV.refillFailed);
        d.events.a[ev] = this.#store({ from, to });
      } else if (type !== MSG.recall) {
        const ev = d.events.at(t + RETRY_MS, EV.message);
        d.events.a[ev] = this.#store({ type, from, to, body, resend: true });
      }
      return;
    }
    const ev = d.events.at(t + d.oneWayRegions(from.region, to.region), EV.message);
    d.events.a[ev] = this.#store({ type, from, to, body });
  }

  #store(msg) {
    const id = this.#nextId++;
    this.#messages.set(id, msg);
    return id;
  }

  handle(id) {
    const d = this.d;
    const t = d.events.time[id];
    const msg = this.#messages.get(d.events.a[id]);
    this.#messages.delete(d.events.a[id]);
    if (d.events.type[id] === EV.refillFailed) {
      msg.from.inflight.delete(msg.to);
      return;
    }
    if (msg.resend) return this.#send(msg.type, msg.from, msg.to, msg.body, t);
    const node = msg.to;
    // A grant that answers a refill is the reply to the child's own call: no new call on the child.
    const wait = msg.type === MSG.grant && msg.body.reply ? 0 : d.objects.arrive(node.objectId, t, 1, SERVICE_MS.lease);
    if (wait < 0) {
      // Overloaded: a refill is answered with nothing; a grant or a return is sent again.
      if (msg.type === MSG.refill) this.#send(MSG.grant, node, msg.from, { grants: [], exhausted: [], reply: true }, t);
      else if (msg.type !== MSG.recall) this.#send(msg.type, msg.from, msg.to, msg.body, t + 100);
      return;
    }
    const at = t + wait;
    switch (msg.type) {
      case MSG.refill:
        return this.#onRefill(node, msg.from, msg.body, at);
      case MSG.grant:
        return this.#onGrant(node, msg.from, msg.body, at);
      case MSG.return:
        return this.#onReturn(node, msg.from, msg.body, at);
      case MSG.recall:
        return this.#onRecall(node, msg.from, msg.body, at);
      case MSG.reconcile:
        return node.absorbUsage(msg.body.usage, at);
    }
  }

  /** Asks each parent for what this node lacks, if nothing is already asked of it. */
  maybeRefill(node, t) {
    node.wantsRefill = false;
    for (const parent of node.parentList) {
      const asked = node.inflight.get(parent);
      // A queued need the relay dropped (its own parent never answered) is asked again after a while.
      if (asked !== undefined && t - asked < WAITING_TTL_MS + 500) continue;
      if (node.backoff !== null && (node.backoff.get(parent) ?? 0) > t) continue;
      let wants = null;
      for (let b = 0; b < 5; b++) {
        if (node.parents[b] !== parent || !node.has[b]) continue;
        const need = node.waiters.length > 0 ? this.d.needOf(node, b, t) : 0;
        const head = node.waiters.length > 0 ? this.d.headOf(node, b, t) : 0;
        const want = wantOf(node, b, need, head, this.minUnits[b] * (node.role === "shard" ? 1 : 4), t);
        if (want.need === 0 && want.ahead === 0) continue;
        (wants ??= [])[b] = want;
      }
      if (wants === null) continue;
      node.inflight.set(parent, t);
      this.calls.refill++;
      node.lastReportAt = t;
      this.#send(MSG.refill, node, parent, { wants, report: this.#report(node, t), usage: node.takeUsage(parent) }, t);
    }
  }

  #report(node, t) {
    return { level: [0, 1, 2, 3, 4].map((b) => node.held(b, t)), demand: [0, 1, 2, 3, 4].map((b) => node.demand(b, t)) };
  }

  #onRefill(parent, child, { wants, report, usage }, t) {
    parent.absorbUsage(usage, t);
    const info = parent.children.get(child) ?? { lastRecall: -1e9 };
    info.report = report;
    parent.children.set(child, info);
    const grants = [];
    const exhausted = [];
    let queued = false;
    const short = [];
    for (let b = 0; b < 5; b++) {
      const want = wants[b];
      if (want === undefined) continue;
      const avail = parent.available(b, t);
      const g = whole(b, grantFor(avail, want, this.#aheadCap(parent, b, child)));
      if (want.ahead > 0 && g < want.need + want.ahead / 2) short.push(b);
      if (g > 0) {
        grants[b] = parent.take(b, g, t);
        // What the child holds now, as far as the parent knows (its next report corrects it).
        report.level[b] += g;
        continue;
      }
      if (want.need === 0) continue;
      if (parent.isRoot(b)) {
        exhausted[b] = this.#retryAt(parent, b, t);
        parent.starved.push({ child, b, ...want, at: t });
        this.#recall(parent, b, child, t);
      } else {
        parent.waiters.push({ child, b, ...want, at: t });
        queued = true;
      }
    }
    this.#send(MSG.grant, parent, child, { grants, exhausted, reply: true, queued, short }, t);
    this.maybeRefill(parent, t);
  }

  /** What a root may still lend ahead of need: its cap minus what its other children reported holding. */
  #aheadCap(parent, b, child) {
    if (!parent.isRoot(b)) return Infinity;
    const share = parent.tenant < 0 ? LEASE.globalAheadCap : LEASE.tenantAheadCap;
    let held = 0;
    for (const [other, info] of parent.children) if (other !== child && info.report) held += info.report.level[b];
    return share * parent.limit[b] - held;
  }

  /** When a child may ask again: units come back as reports and returns arrive, so never long. */
  #retryAt(root, b, t) {
    if (WINDOWED[b]) return Math.min(t + EXHAUSTED_RETRY_MS, Math.max(t + 1, root.log.oldestExpiry(), root.usedLog.oldestExpiry()));
    return t + (b === B.slot ? 250 : 1000);
  }

  #onGrant(child, parent, { grants, exhausted, reply, queued, settles, short }, t) {
    if (short) for (const b of short) child.shortUntil[b] = t + SHORT_BACKOFF_MS;
    // A relay that queued the need answers again when it has the units: until then nothing is asked again.
    if ((reply && !queued) || settles) child.inflight.delete(parent);
    // Overloaded parent (an empty answer): wait a little before asking again.
    if (reply && !queued && grants.length === 0 && exhausted.length === 0) (child.backoff ??= new Map()).set(parent, t + 100);
    for (let b = 0; b < 5; b++) {
      if (grants[b] !== undefined) {
        child.give(b, grants[b], t);
        child.exhaustedUntil[b] = 0;
      }
      if (exhausted[b] !== undefined) child.exhaustedUntil[b] = exhausted[b];
    }
    this.d.afterGrant(child, t);
  }

  #onReturn(parent, child, { units, usage }, t) {
    parent.absorbUsage(usage ?? null, t);
    const report = parent.children.get(child)?.report;
    for (let b = 0; b < 5; b++) {
      if (units[b] === undefined) continue;
      parent.give(b, units[b], t);
      if (report) report.level[b] = Math.max(0, report.level[b] - (typeof units[b] === "number" ? units[b] : units[b].reduce((n, p) => n + p.units, 0)));
    }
    if (parent.starved.length > 0) this.#serveStarved(parent, t);
    this.serveWaiting(parent, t);
  }

  #onRecall(child, parent, { b }, t) {
    const keep = child.demand(b, t) + this.d.needOf(child, b, t);
    const surplus = child.available(b, t) - keep;
    if (surplus > this.minUnits[b]) this.giveBack(child, parent, { [b]: surplus }, t);
  }

  /** Returns units to a parent: `amounts[b]` of each budget (all of it when Infinity). */
  giveBack(child, parent, amounts, t) {
    const units = [];
    let any = false;
    for (const [key, amount] of Object.entries(amounts)) {
      const b = Number(key);
      const n = Math.min(amount, child.available(b, t));
      if (!(n > 1e-9)) continue;
      units[b] = child.take(b, n, t);
      any = true;
    }
    if (!any) return;
    this.calls.return++;
    child.lastReportAt = t;
    this.#send(MSG.return, child, parent, { units, usage: child.takeUsage(parent) }, t);
  }

  #recall(root, b, except, t) {
    for (const [child, info] of root.children) {
      if (child === except || t - info.lastRecall < LEASE.recallGapMs || !info.report) continue;
      if (info.report.level[b] - info.report.demand[b] <= this.minUnits[b]) continue;
      info.lastRecall = t;
      this.calls.recall++;
      this.#send(MSG.recall, root, child, { b }, t);
    }
  }

  /** A root got units back: the children it could not serve get them first. */
  #serveStarved(root, t) {
    const still = [];
    for (const s of root.starved) {
      if (t - s.at > STARVED_TTL_MS) continue;
      const avail = root.available(s.b, t);
      const g = whole(s.b, grantFor(avail, s));
      if (g === 0) {
        still.push(s);
        continue;
      }
      const grants = [];
      grants[s.b] = root.take(s.b, g, t);
      this.calls.grant++;
      this.#send(MSG.grant, root, s.child, { grants, exhausted: [], reply: false }, t);
    }
    root.starved = still;
  }

  /** A relay got units: the children waiting on it get them, oldest first. */
  serveWaiting(relay, t) {
    if (relay.waiters.length === 0 || relay.role === "shard") return;
    const still = [];
    for (const w of relay.waiters) {
      if (t - w.at > WAITING_TTL_MS) continue;
      const exhausted = relay.exhaustedUntil[w.b] > t;
      const g = exhausted ? 0 : whole(w.b, grantFor(relay.available(w.b, t), w));
      if (g === 0 && !exhausted) {
        still.push(w);
        continue;
      }
      const grants = [];
      const out = [];
      if (g > 0) grants[w.b] = relay.take(w.b, g, t);
      else out[w.b] = relay.exhaustedUntil[w.b];
      this.calls.grant++;
      this.#send(MSG.grant, relay, w.child, { grants, exhausted: out, reply: false, settles: true }, t);
    }
    relay.waiters = still;
  }

  /** Once a second per node: surplus beyond its horizon goes back; everything after an idle time. */
  tick(node, t) {
    // Nothing used since the last report and nothing held: nothing to do.
    if (t - node.lastUse > 2 * RECONCILE_MS && node.quiet) return;
    this.#returnSurplus(node, t);
    // Usage not reported for a while (no refill, no return): a reconcile call carries it up.
    if (t - node.lastReportAt < RECONCILE_MS) return;
    node.lastReportAt = t;
    for (const parent of node.parentList) {
      const usage = node.takeUsage(parent);
      if (usage === null) continue;
      this.calls.reconcile++;
      this.#send(MSG.reconcile, node, parent, { usage }, t);
    }
    node.quiet = node.role !== "root" && node.waiters.length === 0 && [0, 1, 2, 3, 4].every((b) => node.held(b, t) === 0);
  }

  #returnSurplus(node, t) {
    const idle = t - node.lastUse >= LEASE.idleReturnMs;
    const byParent = new Map();
    for (let b = 0; b < 5; b++) {
      const parent = node.parents[b];
      if (!node.has[b] || parent === null) continue;
      const avail = node.available(b, t);
      const target = Math.max(this.minUnits[b], node.demand(b, t) * (node.aheadMs / 1000));
      const surplus = idle ? avail : avail - target - this.d.needOf(node, b, t);
      if (surplus <= (idle ? 0 : this.minUnits[b])) continue;
      if (!byParent.has(parent)) byParent.set(parent, {});
      byParent.get(parent)[b] = surplus;
    }
    for (const [parent, amounts] of byParent) this.giveBack(node, parent, amounts, t);
  }
}

export { LeaseNode };
