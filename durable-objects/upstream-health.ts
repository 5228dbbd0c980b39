// UpstreamHealth: one Durable Object per upstream target holding its circuit-breaker state.
//
// closed --(failure rate >= threshold over >= minimum calls in the window)--> open
// open --(open period elapsed; evaluated lazily at the next call)--> half_open
// half_open --(a probe succeeds)--> closed;  half_open --(a probe fails)--> open
//
// Every RPC method works synchronously on SQLite plus in-memory copies loaded in the constructor, so
// each call is atomic: 20 concurrent acquireProbe() calls cannot hand out more than the probe limit.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { CallWindow } from "./upstream-health/call-window";
import { DEFAULT_BREAKER_CONFIG, type BreakerConfig } from "./upstream-health/config";
import { ensureSchema } from "./upstream-health/schema";
import { TargetSlots, checkSlotRequest } from "./upstream-health/target-slots";
import type { BreakerCall, BreakerOutcome, BreakerPhase, BreakerState, ProbeGrant, SlotGrant, SlotRequest, SlotState } from "./upstream-health/types";

export type { BreakerCall, BreakerOutcome, BreakerPhase, BreakerState, ProbeGrant, SlotGrant, SlotRequest, SlotState };

type Row = {
  target: string | null;
  phase: BreakerPhase;
  since: number;
  open_until: number | null;
  cycle: number;
  probes_granted: number;
  probe_lease_until: number | null;
  version: number;
  config: string | null;
};

type Reason = "failure_rate" | "open_period_elapsed" | "probe_succeeded" | "probe_failed" | "manual_reset";

export class UpstreamHealth extends DurableObject<Env> {
  #sql: SqlStorage;
  #row!: Row;
  #config: BreakerConfig = DEFAULT_BREAKER_CONFIG;
  #window!: CallWindow;
  #transitions = new Map<string, number>();
  #slots!: TargetSlots;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      this.#row = this.#sql.exec<Row>(`SELECT * FROM breaker WHERE id = 1`).one();
      if (this.#row.config !== null) this.#config = JSON.parse(this.#row.config) as BreakerConfig;
      this.#window = new CallWindow(this.#sql);
      for (const t of this.#sql.exec<{ edge: string; count: number }>(`SELECT * FROM transitions`)) this.#transitions.set(t.edge, t.count);
      this.#slots = new TargetSlots(this.#sql);
    });
  }

  /** Reports one upstream call. While closed it feeds the window; while half-open only probe outcomes count. */
  async record(outcome: BreakerOutcome): Promise<BreakerState> {
    const now = this.#begin(outcome);
    const config = this.#config;
    if (this.#row.phase === "closed") {
      const count = Number.isSafeInteger(outcome.count) && outcome.count! > 0 ? outcome.count! : 1;
      this.#window.add(now, outcome.ok, outcome.latencyMs, config.window_ms, count);
      const w = this.#window.totals(now, config.window_ms);
      if (w.calls >= config.minimum_calls && w.failureRate >= config.failure_rate_threshold) this.#move("open", now, "failure_rate", w);
    } else if (this.#row.phase === "half_open" && outcome.probeCycle === this.#row.cycle) {
      if (outcome.ok) this.#move("closed", now, "probe_succeeded");
      else this.#move("open", now, "probe_failed");
    }
    // Open, or a stray half-open outcome (not a probe of this cycle): it was started before the breaker
    // knew better, and says nothing about the upstream now.
    return this.#snapshot(now);
  }

  /** Asks to call the upstream. Closed: yes. Open: no. Half-open: yes for at most `half_open_probes` callers. */
  async acquireProbe(call: BreakerCall = {}): Promise<ProbeGrant> {
    const now = this.#begin(call);
    let granted = this.#row.phase === "closed";
    if (this.#row.phase === "half_open" && this.#row.probes_granted < this.#config.half_open_probes) {
      granted = true;
      this.#write({ probes_granted: this.#row.probes_granted + 1, probe_lease_until: now + this.#config.probe_timeout_ms });
    }
    return { granted, state: this.#snapshot(now) };
  }

  /** The current state, for routing caches, the admin API and operations. */
  async state(call: BreakerCall = {}): Promise<BreakerState> {
    return this.#snapshot(this.#begin(call));
  }

  /** Closes the breaker by hand (operations), whatever its state. */
  async reset(call: BreakerCall = {}): Promise<BreakerState> {
    const now = this.#begin(call);
    if (this.#row.phase !== "closed") this.#move("closed", now, "manual_reset");
    return this.#snapshot(now);
  }

  /**
   * One of the target's concurrency slots (upstream-health/target-slots.ts): granted while the requests in
   * flight are under the caller's priority-class share of the limit; otherwise refused, or waited for when
   * the tenant's policy queues. Idempotent per request id.
   */
  async acquireSlot(req: SlotRequest): Promise<SlotGrant> {
    checkSlotRequest(req);
    const now = req.now ?? Date.now();
    if (req.target !== undefined && req.target !== this.#row.target) this.#write({ target: req.target });
    return this.#slots.acquire(req, now);
  }

  /** Frees the request's slot (its completion); false when it held none (already released or expired). */
  async releaseSlot(requestId: string, opts: { now?: number } = {}): Promise<{ released: boolean }> {
    return { released: this.#slots.release(requestId, opts.now ?? Date.now()) };
  }

  async slotState(opts: { now?: number } = {}): Promise<SlotState> {
    return this.#slots.state(opts.now ?? Date.now());
  }

  /** Takes the caller's target and settings, then applies what time alone changes. */
  #begin(call: BreakerCall): number {
    const now = call.now ?? Date.now();
    if (call.target !== undefined && call.target !== this.#row.target) this.#write({ target: call.target });
    if (call.config !== undefined) {
      const json = JSON.stringify(call.config);
      if (json !== this.#row.config) {
        this.#config = call.config;
        this.#write({ config: json });
      }
    }
    if (this.#row.phase === "open" && now >= (this.#row.open_until ?? 0)) {
      this.#move("half_open", now, "open_period_elapsed");
    } else if (this.#row.phase === "half_open" && this.#row.probes_granted > 0 && now >= (this.#row.probe_lease_until ?? 0)) {
      // Every permit handed out has lapsed without an outcome (the callers died): hand them out again.
      this.#write({ probes_granted: 0, probe_lease_until: null });
    }
    return now;
  }

  #move(to: BreakerPhase, now: number, reason: Reason, window?: { calls: number; failures: number; failureRate: number }): void {
    const from = this.#row.phase;
    const edge = `${from}->${to}`;
    const count = (this.#transitions.get(edge) ?? 0) + 1;
    const openUntil = to === "open" ? now + this.#config.open_ms : null;
    this.ctx.storage.transactionSync(() => {
      this.#write({
        phase: to,
        since: now,
        open_until: openUntil,
        cycle: this.#row.cycle + (to === "half_open" ? 1 : 0),
        probes_granted: 0,
        probe_lease_until: null,
        version: this.#row.version + 1,
      });
      this.#sql.exec(`INSERT INTO transitions (edge, count) VALUES (?, ?) ON CONFLICT (edge) DO UPDATE SET count = excluded.count`, edge, count);
      if (to !== "half_open") this.#window.clear();
    });
    this.#transitions.set(edge, count);
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "breaker transition",
        target: this.#row.target,
        from,
        to,
        reason,
        at: now,
        open_until: openUntil,
        ...(window ? { calls: window.calls, failures: window.failures, failure_rate: window.failureRate } : {}),
        count,
      }),
    );
  }

  #write(changes: Partial<Row>): void {
    const columns = Object.keys(changes);
    this.#sql.exec(`UPDATE breaker SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE id = 1`, ...Object.values(changes));
    Object.assign(this.#row, changes);
  }

  #snapshot(now: number): BreakerState {
    const row = this.#row;
    const w = this.#window.totals(now, this.#config.window_ms);
    return {
      target: row.target,
      state: row.phase,
      since: row.since,
      openUntil: row.open_until,
      cycle: row.cycle,
      probes: { granted: row.probes_granted, limit: this.#config.half_open_probes },
      window: { ...w, windowMs: this.#config.window_ms },
      transitions: Object.fromEntries(this.#transitions),
      version: row.version,
      config: this.#config,
      at: now,
    };
  }
}
