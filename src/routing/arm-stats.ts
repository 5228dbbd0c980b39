// Arm statistics of the routing bandit: the stored state of one arm (an upstream preset on a route),
// the update by one observed call (exponential decay, cool-down), and the decayed view read at choice
// time. Pure functions: the Durable Object, the Redis script (same arithmetic, in Lua) and the
// simulation all use these definitions.
import type { RoutingPolicy } from "../config/schemas";

/** What is stored per arm. Sums are decayed to `updatedAt`; decay to "now" is applied when read. */
export interface ArmState {
  /** Decayed number of observed calls. */
  n: number;
  /** Decayed sum of rewards (each in 0..1). */
  reward: number;
  /** Decayed number of failed calls. */
  failures: number;
  /** Decayed sum of latencies (ms); latencyMs / n is the mean. */
  latencyMs: number;
  /** Failures in a row, across every isolate (reset by a success, or when a cool-down starts). */
  consecutiveFailures: number;
  /** Epoch ms until which the arm is out of the bandit's choice; 0 = not cooling down. */
  cooldownUntil: number;
  /** Epoch ms of the newest observation. */
  updatedAt: number;
}

/** One route's arms; `seq` grows with every recorded batch, so a cache keeps the newest reply. */
export interface RouteStats {
  seq: number;
  arms: Record<string, ArmState>;
}

/** One upstream call's outcome, reported off the hot path. */
export interface Observation {
  arm: string;
  success: boolean;
  /** 0..1 (see rewardOf). */
  reward: number;
  latencyMs: number;
  /** Epoch ms of the call. */
  at: number;
}

/** The part of a routing policy the stores need to apply observations. */
export interface LearningParams {
  halfLifeMs: number;
  /** 0 disables the cool-down. */
  cooldownFailures: number;
  cooldownMs: number;
}

export const EMPTY_ARM: Readonly<ArmState> = { n: 0, reward: 0, failures: 0, latencyMs: 0, consecutiveFailures: 0, cooldownUntil: 0, updatedAt: 0 };

export function learningParams(policy: RoutingPolicy): LearningParams {
  return { halfLifeMs: policy.half_life_s * 1000, cooldownFailures: policy.cooldown_failures, cooldownMs: policy.cooldown_s * 1000 };
}

/** Weight left after `elapsedMs` with the given half-life. */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? 1 : Math.pow(2, -elapsedMs / halfLifeMs);
}

/**
 * reward = success * (1 - w * min(1, latency / target)): a success is worth 1 when latency does not
 * matter (w = 0), down to 1 - w at or beyond the target latency. A failure is worth 0.
 */
export function rewardOf(success: boolean, latencyMs: number, policy: Pick<RoutingPolicy, "latency_weight" | "latency_target_ms">): number {
  if (!success) return 0;
  return 1 - policy.latency_weight * Math.min(1, Math.max(0, latencyMs) / policy.latency_target_ms);
}

/**
 * Applies one observation. An observation older than the arm's newest counts as of that newest
 * instant (reports from many isolates arrive out of order; the error is bounded by their delay).
 * Keep in step with RECORD_SCRIPT in redis-stats-store.ts.
 */
export function applyObservation(state: Readonly<ArmState>, obs: Observation, params: LearningParams): ArmState {
  const now = Math.max(obs.at, state.updatedAt);
  const d = state.n === 0 && state.updatedAt === 0 ? 1 : decayFactor(now - state.updatedAt, params.halfLifeMs);
  const next: ArmState = {
    n: state.n * d + 1,
    reward: state.reward * d + obs.reward,
    failures: state.failures * d + (obs.success ? 0 : 1),
    latencyMs: state.latencyMs * d + Math.max(0, obs.latencyMs),
    consecutiveFailures: obs.success ? 0 : state.consecutiveFailures + 1,
    cooldownUntil: state.cooldownUntil,
    updatedAt: now,
  };
  if (params.cooldownFailures > 0 && next.consecutiveFailures >= params.cooldownFailures) {
    next.cooldownUntil = Math.max(next.cooldownUntil, now + params.cooldownMs);
    next.consecutiveFailures = 0;
  }
  return next;
}

/** Applies a batch in order to a route's arms (mutating `arms`); returns the arms touched. */
export function applyObservations(arms: Map<string, ArmState>, observations: readonly Observation[], params: LearningParams): Set<string> {
  const touched = new Set<string>();
  for (const obs of observations) {
    arms.set(obs.arm, applyObservation(arms.get(obs.arm) ?? EMPTY_ARM, obs, params));
    touched.add(obs.arm);
  }
  return touched;
}

/** An arm as the bandit sees it at `now`: decayed counts, means, and whether it is cooling down. */
export interface ArmView {
  n: number;
  reward: number;
  /** Mean reward; 0 for an arm never observed (the strategies treat n = 0 as unexplored). */
  mean: number;
  successRate: number;
  meanLatencyMs: number | null;
  coolingDown: boolean;
}

export function viewOf(state: Readonly<ArmState> | undefined, now: number, halfLifeMs: number): ArmView {
  if (!state || state.n <= 0) return { n: 0, reward: 0, mean: 0, successRate: 0, meanLatencyMs: null, coolingDown: (state?.cooldownUntil ?? 0) > now };
  const d = decayFactor(now - state.updatedAt, halfLifeMs);
  return {
    n: state.n * d,
    reward: state.reward * d,
    mean: state.reward / state.n,
    successRate: 1 - state.failures / state.n,
    meanLatencyMs: state.latencyMs / state.n,
    coolingDown: state.cooldownUntil > now,
  };
}

/** Checks a batch before it is applied (RPC and Redis inputs): finite numbers, rewards in 0..1. */
export function validObservation(obs: Observation): boolean {
  return (
    typeof obs.arm === "string" &&
    obs.arm.length > 0 &&
    obs.arm.length <= 256 &&
    Number.isFinite(obs.reward) &&
    obs.reward >= 0 &&
    obs.reward <= 1 &&
    Number.isFinite(obs.latencyMs) &&
    Number.isFinite(obs.at)
  );
}

/** The arm-statistics store behind the routing bandit: the BanditStats Durable Object or Upstash Redis (src/routing/stats-store.ts). */
export interface ArmStatsStore {
  readonly backend: "durable_object" | "redis";
  /** The route's arms as stored. */
  read(route: string): Promise<RouteStats>;
  /** Applies observations atomically, in order; resolves with the route's new state. */
  record(route: string, observations: Observation[], params: LearningParams): Promise<RouteStats>;
  /** Forgets the given arms of the route, or all of them. */
  reset(route: string, arms?: string[]): Promise<RouteStats>;
}
