// The TenantGuard's state: SQLite plus the in-memory books loaded from it, the monotonic clock and the balance.
// Held in a #private field of the Durable Object, so nothing here is reachable over RPC.
import { AccessBook } from "./access";
import { HoldBook } from "./holds";
import { IdempotencyBook } from "./idempotency";
import { Outbox } from "./outbox";
import { QuotaBook } from "./quotas";
import { RateWindows, WINDOW_MS, levelsOf } from "./rate-windows";

export class GuardState {
  readonly sql: SqlStorage;
  readonly access: AccessBook;
  readonly quotas: QuotaBook;
  readonly holds: HoldBook;
  readonly idempotency: IdempotencyBook;
  readonly outbox: Outbox;
  windows = new RateWindows();
  /** Milliseconds; never goes backwards, so the sliding logs stay time-ordered whatever clocks callers pass. */
  clock = 0;
  #balance = 0;
  #storage: DurableObjectStorage;
  #name: string | undefined;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.sql = storage.sql;
    this.access = new AccessBook(this.sql);
    this.quotas = new QuotaBook(this.sql);
    this.holds = new HoldBook(this.sql);
    this.idempotency = new IdempotencyBook(this.sql);
    this.outbox = new Outbox(this.sql);
  }

  get balance(): number {
    return this.#balance;
  }

  /** Call inside mutate(): the row and the cached value change together. */
  setBalance(value: number): void {
    this.sql.exec(`UPDATE meta SET value = ? WHERE name = 'balance'`, value);
    this.#balance = value;
  }

  /** The tenant (or service) this object belongs to: its name, kept in storage for alarms (which may run without it). */
  get tenantId(): string {
    return this.#name ?? "unknown";
  }

  /** The object's name when the runtime gives it (a stub from idFromName), remembered for calls that come without it. */
  rememberName(name: string | undefined): void {
    if (name !== undefined) this.sql.exec(`INSERT OR REPLACE INTO meta (name, value) VALUES ('tenant_id', ?)`, name);
    this.#name = name ?? this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE name = 'tenant_id'`).toArray()[0]?.value;
  }

  /** Only admissions move the clock: they are what the sliding logs order. */
  tick(now: number | undefined): number {
    const t = now ?? Date.now();
    if (!Number.isFinite(t)) throw new TypeError("now must be a finite number of milliseconds");
    this.clock = Math.max(this.clock, t);
    return this.clock;
  }

  /** Real time or the latest clock a caller gave, whichever is later (tests drive the clock). */
  latest(): number {
    return Math.max(Date.now(), this.clock);
  }

  /** Runs writes in one transaction; if anything throws, the caches are rebuilt from what SQLite kept. */
  mutate<T>(fn: () => T): T {
    try {
      return this.#storage.transactionSync(fn);
    } catch (error) {
      this.load();
      throw error;
    }
  }

  load(): void {
    this.#balance = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE name = 'balance'`).one().value;
    this.access.load();
    this.quotas.load();
    this.holds.load();
    this.clock = Math.max(this.clock, this.holds.latestAdmission());
    this.windows = new RateWindows();
    for (const row of this.holds.recent(this.clock - WINDOW_MS)) {
      this.windows.add(row.id, row.at, row.tokens, levelsOf(row.channel, row.keyId, row.ip, {}).map((l) => l.subject));
    }
  }
}
