// The proposed design never over-admits, and leases conserve what they lend.
import { describe, expect, it } from "vitest";
import { simulate } from "./engine.mjs";
import { configFor } from "./run.mjs";
import { ProposedDesign } from "./designs/proposed.mjs";
import { B, LeaseNode } from "./designs/leases.mjs";
import { Rng } from "./lib/rng.mjs";
import { WindowLog } from "./model/budgets.mjs";
import { SMALL, SMALL_SCALE } from "./testing.mjs";

describe("the proposed design under binding limits, a storm and a region cut off", { timeout: 120_000 }, () => {
  it("never admits past a tenant's limits or balance, nor past the global bucket", () => {
    // The global bucket holds 9 s of demand per minute: it binds within the 16-s run. 18% of the tenants
    // have binding limits; the storm and the cut-off are in the run too.
    const config = configFor(SMALL_SCALE, { ...SMALL, seconds: 16, seed: 11, globalLimitFactor: 9 / 60 });
    const run = simulate(config, (w, i) => new ProposedDesign(w, i));
    const d = run.design as ProposedDesign & { oracle: { overAdmitted: number; admitted: number } };
    expect(d.oracle.overAdmitted).toBe(0);
    // The limits did bind: requests were refused by tenants' limits and by the global bucket.
    expect(d.globalRefused).toBeGreaterThan(0);
    expect(d.outcomes.limited).toBeGreaterThan(d.globalRefused);
    expect(d.oracle.admitted).toBeGreaterThan(run.requests / 3);
  });
});

/** A root, a relay and two shards of one tenant's balance (a pool) and requests (a window). */
function tree(limits: (number | undefined)[]) {
  const root = new LeaseNode(0, "root", 1, 0, [null, null, null, null, null], limits);
  const relay = new LeaseNode(1, "relay", 1, 1, [root, root, root, root, null], limits);
  const shards = [2, 3].map((id) => new LeaseNode(id, "shard", 1, 1, [relay, relay, relay, relay, null], limits));
  return { root, relay, shards };
}

describe("lease accounting", () => {
  it("a pool budget (balance) is conserved: root + held + reserved + spent = the balance, whatever moves", () => {
    const BALANCE = 1_000_000;
    const { root, relay, shards } = tree([undefined, undefined, BALANCE, undefined, undefined]);
    const rng = new Rng(3, "pool");
    let reserved = 0;
    let spent = 0;
    const holds: { shard: LeaseNode; est: number }[] = [];
    for (let step = 0; step < 5_000; step++) {
      const t = step;
      const shard = shards[rng.int(2)]!;
      const op = rng.int(5);
      if (op === 0) relay.give(B.bal, root.take(B.bal, Math.min(root.available(B.bal, t), rng.int(50_000)), t), t);
      else if (op === 1) shard.give(B.bal, relay.take(B.bal, Math.min(relay.available(B.bal, t), rng.int(20_000)), t), t);
      else if (op === 2) {
        const est = 1 + rng.int(3_000);
        if (shard.available(B.bal, t) >= est) {
          shard.consume(B.bal, est, t);
          reserved += est;
          holds.push({ shard, est });
        }
      } else if (op === 3 && holds.length > 0) {
        const { shard: at, est } = holds.splice(rng.int(holds.length), 1)[0]!;
        const actual = rng.int(est + 1);
        at.refund(B.bal, est - actual);
        reserved -= est;
        spent += actual;
      } else if (op === 4) {
        // A return: a shard gives some back to the relay, the relay to the root.
        relay.give(B.bal, shard.take(B.bal, shard.available(B.bal, t) * rng.next(), t), t);
        root.give(B.bal, relay.take(B.bal, relay.available(B.bal, t) * rng.next(), t), t);
      }
      const held = root.available(B.bal, t) + relay.available(B.bal, t) + shards[0]!.available(B.bal, t) + shards[1]!.available(B.bal, t);
      expect(held + reserved + spent).toBeCloseTo(BALANCE, 3);
      expect(reserved + spent).toBeLessThanOrEqual(BALANCE + 1e-6);
    }
    expect(spent).toBeGreaterThan(0);
  });

  it("a window budget (requests per minute) is never used past its limit in any 60 s, with usage reported late and units returned", () => {
    const RPM = 600;
    const { root, relay, shards } = tree([RPM, undefined, undefined, undefined, undefined]);
    const rng = new Rng(5, "window");
    const uses = new WindowLog(60_000);
    let admitted = 0;
    for (let t = 0; t < 300_000; t += 50) {
      // Grants down the tree, now and then; use at the shards; late reports and returns up.
      if (rng.chance(0.05)) relay.give(B.req, root.take(B.req, Math.min(root.available(B.req, t), 1 + rng.int(40)), t), t);
      const shard = shards[rng.int(2)]!;
      if (rng.chance(0.1)) shard.give(B.req, relay.take(B.req, Math.min(relay.available(B.req, t), 1 + rng.int(20)), t), t);
      if (shard.available(B.req, t) >= 1) {
        shard.consume(B.req, 1, t);
        uses.prune(t);
        uses.push(t, 1, 0);
        admitted++;
        expect(uses.requests).toBeLessThanOrEqual(RPM);
      }
      if (rng.chance(0.02)) relay.absorbUsage(shard.takeUsage(relay), t);
      if (rng.chance(0.01)) root.absorbUsage(relay.takeUsage(root), t);
      if (rng.chance(0.005)) root.give(B.req, relay.take(B.req, relay.available(B.req, t), t), t);
    }
    // Busy enough to matter: most of the limit was used, minute after minute.
    expect(admitted).toBeGreaterThan(RPM * 3);
  });
});
