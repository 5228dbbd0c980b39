// BanditStats: the Durable Object backend of the routing bandit's arm statistics, one object per route
// (named by banditObjectName). Single-threaded, so every batch of observations is applied atomically
// and consecutive-failure counts are exact across isolates; state lives in memory, written through to
// SQLite, so a restart changes nothing.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { applyObservations, validObservation, type ArmState, type LearningParams, type Observation, type RouteStats } from "../src/routing/arm-stats";
import { deleteArms, ensureSchema, loadArms, saveArm, saveSeq } from "./bandit-stats/schema";

/** Arms with no observation for this long are forgotten (a preset removed long ago). */
export const FORGET_AFTER_MS = 30 * 86_400_000;
const MAX_BATCH = 100;

function validParams(p: LearningParams): boolean {
  return Number.isFinite(p.halfLifeMs) && p.halfLifeMs > 0 && Number.isInteger(p.cooldownFailures) && p.cooldownFailures >= 0 && Number.isFinite(p.cooldownMs) && p.cooldownMs >= 0;
}

export class BanditStats extends DurableObject<Env> {
  #sql: SqlStorage;
  #arms = new Map<string, ArmState>();
  #seq = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage);
      const loaded = loadArms(this.#sql);
      this.#arms = loaded.arms;
      this.#seq = loaded.seq;
    });
  }

  /** The route's arms as stored (decay to "now" is applied by the reader). */
  read(): RouteStats {
    return this.#snapshot();
  }

  /** Applies a batch of observations in order; the reply is the new state (callers refresh their cache with it). */
  record(batch: Observation[], params: LearningParams): RouteStats {
    // Only the gateway calls this; anything malformed is a bug there, dropped (and logged) rather than stored.
    const observations = Array.isArray(batch) && validParams(params) ? batch.slice(0, MAX_BATCH).filter(validObservation) : [];
    if (observations.length !== (Array.isArray(batch) ? batch.length : -1)) {
      console.error(JSON.stringify({ level: "error", msg: "bandit stats: invalid observations dropped", received: Array.isArray(batch) ? batch.length : typeof batch, kept: observations.length }));
    }
    if (observations.length === 0) return this.#snapshot();
    const touched = applyObservations(this.#arms, observations, params);
    const newest = Math.max(...observations.map((o) => o.at));
    const stale = [...this.#arms].filter(([, s]) => newest - s.updatedAt > FORGET_AFTER_MS).map(([arm]) => arm);
    this.#seq += 1;
    this.ctx.storage.transactionSync(() => {
      for (const arm of touched) saveArm(this.#sql, arm, this.#arms.get(arm)!);
      if (stale.length > 0) deleteArms(this.#sql, stale);
      saveSeq(this.#sql, this.#seq);
    });
    for (const arm of stale) this.#arms.delete(arm);
    return this.#snapshot();
  }

  /** Forgets some arms (or all): an operator's fresh start after fixing a provider. */
  reset(arms?: string[]): RouteStats {
    this.#seq += 1;
    this.ctx.storage.transactionSync(() => {
      deleteArms(this.#sql, arms);
      saveSeq(this.#sql, this.#seq);
    });
    if (arms === undefined) this.#arms.clear();
    else for (const arm of arms) this.#arms.delete(arm);
    return this.#snapshot();
  }

  #snapshot(): RouteStats {
    return { seq: this.#seq, arms: Object.fromEntries([...this.#arms].map(([arm, s]) => [arm, { ...s }])) };
  }
}
