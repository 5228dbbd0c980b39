// Isolates per colo that come and go: each colo runs enough isolates for its traffic (an assumed
// requests-per-second per isolate), and every second each isolate ends with probability 1/lifetime
// (eviction, deploys, memory) and a fresh one takes its slot. What an isolate held in memory goes with it.
export class Isolates {
  /** Slot -> colo; the slots of each colo; a slot's generation (bumped when its isolate is replaced). */
  coloOf;
  slotsOf;
  generation;
  replacedTotal = 0;

  constructor(world, rng) {
    this.rng = rng;
    const perIsolate = world.config.rpsPerIsolate;
    this.slotsOf = world.colos.map(() => []);
    const colos = [];
    for (const colo of world.colos) {
      const n = Math.max(1, Math.round((colo.share * world.rps) / perIsolate));
      for (let i = 0; i < n; i++) {
        this.slotsOf[colo.id].push(colos.length);
        colos.push(colo.id);
      }
    }
    this.coloOf = Int32Array.from(colos);
    this.generation = new Int32Array(colos.length);
    this.count = colos.length;
    this.lifetimeS = world.config.isolateLifetimeS;
    this.regionOfSlot = Uint8Array.from(colos, (c) => world.colos[c].region);
  }

  /** A uniformly chosen isolate of the colo (the workload's draw). */
  pick(coloId) {
    const slots = this.slotsOf[coloId];
    return slots[this.rng.int(slots.length)];
  }

  /** Once a second: ends isolates at random; `onReplaced(slot)` lets a design drop what the old one held. */
  churn(onReplaced) {
    const p = 1 / this.lifetimeS;
    for (let slot = 0; slot < this.count; slot++) {
      if (this.rng.next() >= p) continue;
      this.generation[slot]++;
      this.replacedTotal++;
      onReplaced(slot);
    }
  }
}
