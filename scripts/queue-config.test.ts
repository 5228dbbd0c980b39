// wrangler.toml's queue consumers, in every environment, against the retry policy in code: every ledger
// queue has a dead-letter queue; the dead-letter consumers retry at least 20 times with a retry_delay,
// their max_retries is the var the consumer reads, and the production delays cover more than a day before a dead letter's last
// delivery, within the platform's limits (100 retries, 24 h per delay) and the queue's retention.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";
import { QUEUE_NAMES_BY_ENVIRONMENT } from "../queues/queue-names";
import { DEAD_LETTER_DEFAULTS, LEDGER_RETRY_DEFAULTS, MAX_QUEUE_DELAY_SECONDS, retrySchedule } from "../queues/retry-policy";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DAY_S = 86_400;
/** A queue's default retention (4 days): the whole schedule must fit inside it. */
const DEFAULT_RETENTION_S = 4 * DAY_S;

// The top level (local development and tests) and each deployed environment, with its own queue names.
describe.each([["top level", undefined], ["staging", "staging"], ["production", "production"]])("queue consumers in wrangler.toml (%s)", (_label, envName) => {
  const config = unstable_readConfig({ config: path.join(ROOT, "wrangler.toml"), env: envName });
  const consumers = config.queues.consumers ?? [];
  const vars = config.vars as Record<string, string>;
  const nameOf = (logical: string) => Object.entries(QUEUE_NAMES_BY_ENVIRONMENT[vars.ENVIRONMENT!]!).find(([, l]) => l === logical)![0];
  const consumer = (logical: string) => consumers.find((c) => c.queue === nameOf(logical))!;

  it("each ledger queue sends what it cannot write to its dead-letter queue, after 8 retries", () => {
    for (const queue of ["gateway-billing", "gateway-audit"]) {
      expect(consumer(queue)).toMatchObject({ max_retries: 8, dead_letter_queue: nameOf(`${queue}-dlq`) });
      expect(consumer(queue).retry_delay).toBeGreaterThan(0);
    }
  });

  it("the dead-letter consumers retry at least 20 times, with a retry_delay, as many times as the consumer is told", () => {
    for (const queue of ["gateway-billing-dlq", "gateway-audit-dlq"]) {
      const c = consumer(queue);
      expect(c.max_retries).toBeGreaterThanOrEqual(20);
      expect(c.max_retries).toBeLessThanOrEqual(100);
      expect(c.max_retries).toBe(Number(vars.DEAD_LETTER_MAX_RETRIES));
      expect(c.retry_delay).toBeGreaterThan(0);
      expect(c.dead_letter_queue).toBeUndefined();
    }
  });

  it("the vars are production's defaults, and those delays cover more than a day before a dead letter's last delivery", () => {
    expect(Number(vars.QUEUE_RETRY_BASE_SECONDS)).toBe(LEDGER_RETRY_DEFAULTS.baseSeconds);
    expect(Number(vars.QUEUE_RETRY_MAX_SECONDS)).toBe(LEDGER_RETRY_DEFAULTS.maxSeconds);
    expect(Number(vars.DEAD_LETTER_RETRY_BASE_SECONDS)).toBe(DEAD_LETTER_DEFAULTS.baseSeconds);
    expect(Number(vars.DEAD_LETTER_RETRY_MAX_SECONDS)).toBe(DEAD_LETTER_DEFAULTS.maxSeconds);
    expect(Number(vars.DEAD_LETTER_MAX_RETRIES)).toBe(DEAD_LETTER_DEFAULTS.maxRetries);
    const schedule = retrySchedule(DEAD_LETTER_DEFAULTS, consumer("gateway-billing-dlq").max_retries!);
    const span = schedule.at(-1)!.cumulativeSeconds;
    expect(span).toBeGreaterThanOrEqual(DAY_S);
    const ledger = retrySchedule(LEDGER_RETRY_DEFAULTS, consumer("gateway-billing").max_retries!).at(-1)!.cumulativeSeconds;
    expect(ledger + span).toBeLessThan(DEFAULT_RETENTION_S);
    for (const row of schedule) expect(row.delaySeconds).toBeLessThanOrEqual(MAX_QUEUE_DELAY_SECONDS);
  });
});
