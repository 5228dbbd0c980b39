// Moves this isolate's accumulated metrics to the one GatewayMetrics Durable Object, off the
// response path: a flush is scheduled with waitUntil at most every FLUSH_INTERVAL_MS (sooner after
// FLUSH_EVENTS increments). A batch that cannot be delivered is kept and sent again with the next
// flush under the same id, so the object never counts it twice.
import { metricsFor } from "../objects";
import type { Env } from "../env";
import { STORED } from "./families";
import { MetricsRecorder, type MetricsDelta } from "./recorder";
import { withTimeout } from "./with-timeout";

export const FLUSH_INTERVAL_MS = 5_000;
export const FLUSH_EVENTS = 1_000;
/** Undelivered batches kept per isolate (about a minute of flushes); older ones are dropped and counted. */
const MAX_PENDING_BATCHES = 12;
const MERGE_TIMEOUT_MS = 5_000;

/** This isolate's accumulator; every recording function writes here. */
export const isolateMetrics = new MetricsRecorder();

const pending: MetricsDelta[] = [];
let dropped = 0;
let scheduledAt: number | undefined;


/**
 * Makes sure a flush will happen soon, without delaying anyone: the first recording after a flush
 * starts a timer kept alive by its request's waitUntil; later ones ride on it.
 */
export function scheduleFlush(env: Env, exec: ExecutionContext): void {
  const now = Date.now();
  if (isolateMetrics.events >= FLUSH_EVENTS) {
    exec.waitUntil(flushMetrics(env).then(() => undefined));
    return;
  }
  // A timer whose request context died never fires; after three intervals another takes over.
  if (scheduledAt !== undefined && now - scheduledAt < FLUSH_INTERVAL_MS * 3) return;
  scheduledAt = now;
  exec.waitUntil(
    new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS)).then(() => {
      scheduledAt = undefined;
      return flushMetrics(env).then(() => undefined);
    }),
  );
}

/**
 * Sends everything this isolate holds to the object now; true when nothing is left undelivered.
 * Each call owns the batches it took, so overlapping calls never share a promise across requests.
 * Also the test hook that forces a flush.
 */
export async function flushMetrics(env: Env): Promise<boolean> {
  if (dropped > 0) {
    isolateMetrics.count(STORED.droppedBatches, {}, dropped);
    dropped = 0;
  }
  const mine = pending.splice(0);
  const fresh = isolateMetrics.take();
  if (fresh) mine.push(fresh);
  for (let i = 0; i < mine.length; i++) {
    try {
      await withTimeout(metricsFor(env).merge(mine[i]!), MERGE_TIMEOUT_MS, "metrics merge");
    } catch (error) {
      pending.push(...mine.slice(i));
      while (pending.length > MAX_PENDING_BATCHES) {
        pending.shift();
        dropped++;
      }
      console.error(JSON.stringify({ level: "error", msg: "metrics flush failed", pending_batches: pending.length, error: String(error) }));
      return false;
    }
  }
  return true;
}
