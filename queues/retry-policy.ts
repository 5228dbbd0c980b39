// How long a queue consumer waits before a message comes back: exponential back-off with a cap, per
// message (`message.retry({ delaySeconds })` from `message.attempts`). Two policies: the ledger
// consumers' (minutes: a database blip) and the dead-letter consumers' (a day and more: a database
// outage must never outlast them). Both are vars, so drills and tests can shorten them; the defaults
// are production's. The dead-letter consumers' max_retries lives in wrangler.toml, and its var copy
// here must match it (scripts/queue-config.test.ts checks both).
import { z } from "zod";
import type { Env } from "../src/env";

export interface RetryPolicy {
  /** Delay after the first failed delivery, seconds. */
  baseSeconds: number;
  /** No delay is longer than this, seconds. */
  maxSeconds: number;
}

export interface DeadLetterPolicy extends RetryPolicy {
  /** The dead-letter consumers' max_retries in wrangler.toml: the delivery with attempts > this is the last. */
  maxRetries: number;
}

/** Cloudflare Queues refuse a delay over 24 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 86_400;

/** Ledger consumers: 5, 10, 20 ... 300 s; their 8 retries (wrangler.toml) span 915 s. */
export const LEDGER_RETRY_DEFAULTS: RetryPolicy = { baseSeconds: 5, maxSeconds: 300 };
/** Dead-letter consumers: 1, 2, 4 ... 32 min, then hourly; their 40 retries span 35 h. */
export const DEAD_LETTER_DEFAULTS: DeadLetterPolicy = { baseSeconds: 60, maxSeconds: 3_600, maxRetries: 40 };

/** Seconds before redelivery after `attempts` failed deliveries (attempts counts from 1). */
export function retryDelaySeconds(attempts: number, policy: RetryPolicy = LEDGER_RETRY_DEFAULTS): number {
  const exponent = Math.min(Math.max(0, attempts - 1), 30);
  return Math.min(policy.maxSeconds, MAX_QUEUE_DELAY_SECONDS, Math.round(policy.baseSeconds * 2 ** exponent));
}

export interface ScheduleRow {
  /** The failed delivery (message.attempts) after which the message waits. */
  attempt: number;
  delaySeconds: number;
  /** Time from the first delivery to the next one. */
  cumulativeSeconds: number;
}

/** The whole schedule of `retries` retries: row n is the wait after delivery n. */
export function retrySchedule(policy: RetryPolicy, retries: number): ScheduleRow[] {
  const rows: ScheduleRow[] = [];
  let cumulative = 0;
  for (let attempt = 1; attempt <= retries; attempt++) {
    const delaySeconds = retryDelaySeconds(attempt, policy);
    cumulative += delaySeconds;
    rows.push({ attempt, delaySeconds, cumulativeSeconds: cumulative });
  }
  return rows;
}

const seconds = (fallback: number, max = MAX_QUEUE_DELAY_SECONDS) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : Number(v)))
    .pipe(z.number().int().min(0).max(max));

const LedgerSchema = z.object({ baseSeconds: seconds(LEDGER_RETRY_DEFAULTS.baseSeconds), maxSeconds: seconds(LEDGER_RETRY_DEFAULTS.maxSeconds) });
const DeadLetterSchema = z.object({
  baseSeconds: seconds(DEAD_LETTER_DEFAULTS.baseSeconds),
  maxSeconds: seconds(DEAD_LETTER_DEFAULTS.maxSeconds),
  // The platform allows at most 100 retries per message.
  maxRetries: seconds(DEAD_LETTER_DEFAULTS.maxRetries, 100),
});

// A bad var must never cost a message: it is logged and the production default used instead.
function parsed<T>(schema: z.ZodType<T>, input: Record<string, string | undefined>, fallback: T, name: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  console.error(JSON.stringify({ level: "error", msg: "invalid queue retry vars: production defaults used", policy: name, problem: result.error.issues[0]?.message }));
  return fallback;
}

const cache = new WeakMap<Env, { ledger: RetryPolicy; deadLetter: DeadLetterPolicy }>();

function policiesOf(env: Env) {
  let policies = cache.get(env);
  if (!policies) {
    policies = {
      ledger: parsed(LedgerSchema, { baseSeconds: env.QUEUE_RETRY_BASE_SECONDS, maxSeconds: env.QUEUE_RETRY_MAX_SECONDS }, LEDGER_RETRY_DEFAULTS, "ledger"),
      deadLetter: parsed(
        DeadLetterSchema,
        { baseSeconds: env.DEAD_LETTER_RETRY_BASE_SECONDS, maxSeconds: env.DEAD_LETTER_RETRY_MAX_SECONDS, maxRetries: env.DEAD_LETTER_MAX_RETRIES },
        DEAD_LETTER_DEFAULTS,
        "dead_letter",
      ),
    };
    cache.set(env, policies);
  }
  return policies;
}

/** The billing and audit consumers' back-off (QUEUE_RETRY_BASE_SECONDS, QUEUE_RETRY_MAX_SECONDS). */
export function ledgerRetryPolicy(env: Env): RetryPolicy {
  return policiesOf(env).ledger;
}

/** The dead-letter consumers' back-off and retry count (DEAD_LETTER_RETRY_BASE_SECONDS, _MAX_SECONDS, DEAD_LETTER_MAX_RETRIES). */
export function deadLetterPolicy(env: Env): DeadLetterPolicy {
  return policiesOf(env).deadLetter;
}
