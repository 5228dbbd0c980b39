// The event list of the discrete-event simulation, in struct-of-arrays form so millions of pending
// events (every stream's settlement, minutes ahead) cost no garbage: a ring of one-millisecond slots for
// the next few seconds (FIFO within a slot) and a binary heap for anything later.
const HORIZON = 8192;

export class EventQueue {
  #cap = 1 << 16;
  type = new Uint8Array(this.#cap);
  time = new Float64Array(this.#cap);
  a = new Int32Array(this.#cap);
  b = new Int32Array(this.#cap);
  c = new Int32Array(this.#cap);
  d = new Int32Array(this.#cap);
  x = new Float64Array(this.#cap);
  y = new Float64Array(this.#cap);
  #next = new Int32Array(this.#cap);
  #free = -1;
  #used = 0;
  #head = new Int32Array(HORIZON).fill(-1);
  #tail = new Int32Array(HORIZON).fill(-1);
  #heap = new Int32Array(1 << 16);
  #heapSize = 0;
  /** The millisecond being processed. */
  now = 0;
  pending = 0;

  /** Schedules an event; returns its id (fields a..d, x, y are the caller's to fill). */
  at(time, type) {
    const id = this.#alloc();
    const t = time < this.now ? this.now : time;
    this.type[id] = type;
    this.time[id] = t;
    this.pending++;
    const slot = Math.floor(t);
    if (slot - this.now < HORIZON) this.#append(slot & (HORIZON - 1), id);
    else this.#push(id);
    return id;
  }

  /** The next event due in the current millisecond (later events first leave the heap), or -1. */
  pop() {
    while (this.#heapSize > 0 && this.time[this.#heap[0]] < this.now + HORIZON - 1) {
      const id = this.#popHeap();
      this.#append(Math.floor(this.time[id]) & (HORIZON - 1), id);
    }
    const slot = this.now & (HORIZON - 1);
    const id = this.#head[slot];
    if (id === -1) return -1;
    this.#head[slot] = this.#next[id];
    if (this.#head[slot] === -1) this.#tail[slot] = -1;
    this.pending--;
    return id;
  }

  /** Returns a processed event's slot to the pool. */
  release(id) {
    this.#next[id] = this.#free;
    this.#free = id;
  }

  #append(slot, id) {
    this.#next[id] = -1;
    if (this.#tail[slot] === -1) this.#head[slot] = id;
    else this.#next[this.#tail[slot]] = id;
    this.#tail[slot] = id;
  }

  #alloc() {
    if (this.#free !== -1) {
      const id = this.#free;
      this.#free = this.#next[id];
      return id;
    }
    if (this.#used === this.#cap) this.#grow();
    return this.#used++;
  }

  #grow() {
    this.#cap *= 2;
    for (const name of ["type", "time", "a", "b", "c", "d", "x", "y"]) {
      const next = new this[name].constructor(this.#cap);
      next.set(this[name]);
      this[name] = next;
    }
    const next = new Int32Array(this.#cap);
    next.set(this.#next);
    this.#next = next;
  }

  #push(id) {
    if (this.#heapSize === this.#heap.length) {
      const bigger = new Int32Array(this.#heap.length * 2);
      bigger.set(this.#heap);
      this.#heap = bigger;
    }
    const heap = this.#heap;
    const time = this.time;
    let i = this.#heapSize++;
    const t = time[id];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (time[heap[parent]] <= t) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = id;
  }

  #popHeap() {
    const heap = this.#heap;
    const time = this.time;
    const top = heap[0];
    const last = heap[--this.#heapSize];
    const n = this.#heapSize;
    const t = time[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && time[heap[child + 1]] < time[heap[child]]) child++;
      if (time[heap[child]] >= t) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
