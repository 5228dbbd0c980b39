// In-isolate cache for configuration read from KV: TTL with jitter (so isolates do not refresh in
// lock-step), single flight (concurrent misses load once), and version monotonicity (a value older
// than one already seen is never put back).

interface Entry<T> {
  value: T;
  version: number;
  expiresAt: number;
}

export interface CacheOptions {
  ttlMs: number;
  /** Fraction of the TTL added at random, 0..1. */
  jitter?: number;
  maxEntries?: number;
  now?: () => number;
}

export class ConfigCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #opts: Required<CacheOptions>;

  constructor(opts: CacheOptions) {
    this.#opts = { jitter: 0.2, maxEntries: 10_000, now: Date.now, ...opts };
  }

  /** Returns the cached value, or loads it once however many callers miss at the same time. */
  async get(key: string, load: () => Promise<{ value: T; version: number }>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && hit.expiresAt > this.#opts.now()) return hit.value;
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const loading = load()
      .then(({ value, version }) => this.#store(key, value, version))
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, loading);
    return loading;
  }

  /** Drops one key (admin writes in this isolate apply at once). */
  invalidate(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  #store(key: string, value: T, version: number): T {
    const previous = this.#entries.get(key);
    // A stale replica may answer with an older version after a newer one was seen: keep the newer.
    if (previous && previous.version > version) {
      previous.expiresAt = this.#expiry();
      return previous.value;
    }
    if (this.#entries.size >= this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, version, expiresAt: this.#expiry() });
    return value;
  }

  #expiry(): number {
    const { ttlMs, jitter, now } = this.#opts;
    return now() + ttlMs + Math.floor(Math.random() * ttlMs * jitter);
  }
}
