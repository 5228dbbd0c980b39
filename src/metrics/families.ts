// The gateway's metric families: names, types, help text, label names, histogram buckets and the
// series cap that keeps label cardinality bounded. One list, read by the recorder, the
// GatewayMetrics Durable Object and the exposition renderer (docs/operations/monitoring.md).

export type FamilyType = "counter" | "histogram" | "gauge";

export interface Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram upper bounds in seconds, ascending (+Inf is implied). */
  readonly buckets?: readonly number[];
  /** Most distinct label sets kept; new ones beyond it are folded into one overflow series. */
  readonly maxSeries?: number;
}

/** Total request time, seconds: LLM calls run from milliseconds (rejections) to minutes (long generations). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300] as const;
/** The gateway's own share of a request, seconds. */
export const OVERHEAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** Label value that stands for every series past a family's cap. */
export const OVERFLOW_LABEL = "_other";
export const DEFAULT_MAX_SERIES = 2_000;
/** Tenants named in the cost counter; later tenants are summed under tenant="_other". */
export const COST_TENANT_SERIES = 50;

const family = <const F extends Family>(f: F): F => f;

/** Families accumulated per isolate, merged in the Durable Object, exported as stored. */
export const STORED = {
  requests: family({
    name: "gateway_requests_total",
    type: "counter",
    help: "Gateway requests by channel, route template, configured model, HTTP status and error source (none, client, gateway, upstream).",
    labels: ["channel", "route", "model", "status", "error_source"],
    maxSeries: 5_000,
  }),
  duration: family({
    name: "gateway_request_duration_seconds",
    type: "histogram",
    help: "Total request time from arrival to the end of the response body (streams: the whole stream).",
    labels: ["channel", "stream"],
    buckets: DURATION_BUCKETS,
  }),
  overhead: family({
    name: "gateway_overhead_seconds",
    type: "histogram",
    help: "Gateway time of non-streaming requests that called an upstream: total time minus the upstream call step.",
    labels: ["channel"],
    buckets: OVERHEAD_BUCKETS,
  }),
  upstreamRequests: family({
    name: "gateway_upstream_requests_total",
    type: "counter",
    help: "Upstream call attempts (retries and fallbacks included; targets skipped by an open breaker excluded).",
    labels: ["target"],
  }),
  upstreamFailures: family({
    name: "gateway_upstream_failures_total",
    type: "counter",
    help: "Failed upstream call attempts by target and kind (upstream_timeout, upstream_error, upstream_rate_limited, upstream_bad_response, upstream_response_too_large, stream_broken).",
    labels: ["target", "kind"],
  }),
  rejections: family({
    name: "gateway_rejections_total",
    type: "counter",
    help: "Requests refused by a rate limit, quota or balance check, by error code.",
    labels: ["kind"],
  }),
  failOpen: family({
    name: "gateway_fail_open_total",
    type: "counter",
    help: "Requests let through because a limiter could not be reached (rate_limit, quota).",
    labels: ["kind"],
  }),
  streamBroken: family({
    name: "gateway_stream_broken_total",
    type: "counter",
    help: "Streaming responses whose upstream broke off after the first byte reached the client.",
    labels: [],
  }),
  deadLetters: family({
    name: "gateway_queue_dead_letters_total",
    type: "counter",
    help: "Messages received by a dead-letter queue consumer (first delivery only).",
    labels: ["queue"],
  }),
  deadLettersRequeued: family({
    name: "gateway_dead_letters_requeued_total",
    type: "counter",
    help: "Dead letters whose last delivery still could not store them in Postgres, sent to their dead-letter queue again (never dropped).",
    labels: ["queue"],
  }),
  deadLettersLost: family({
    name: "gateway_dead_letters_lost_total",
    type: "counter",
    help: "Dead letters gone from the queue unstored: their last delivery could neither store nor requeue them (request ids in the error log).",
    labels: ["queue"],
  }),
  queueSent: family({
    name: "gateway_queue_messages_sent_total",
    type: "counter",
    help: "Billing and audit events sent to a queue by the gateway (many travel in one queue message).",
    labels: ["queue"],
  }),
  queueAcked: family({
    name: "gateway_queue_messages_acked_total",
    type: "counter",
    help: "Billing and audit events a queue consumer wrote, in messages it acknowledged.",
    labels: ["queue"],
  }),
  negativeBalances: family({
    name: "gateway_billing_negative_balances_total",
    type: "counter",
    help: "Settlements that left a tenant's balance below zero.",
    labels: [],
  }),
  cost: family({
    name: "gateway_billing_cost_micros_total",
    type: "counter",
    help: `Billed cost in micro-units of currency; the first ${COST_TENANT_SERIES} tenants seen are named, the rest summed as tenant="${OVERFLOW_LABEL}".`,
    labels: ["tenant"],
    maxSeries: COST_TENANT_SERIES + 1,
  }),
  cacheRequests: family({
    name: "gateway_cache_requests_total",
    type: "counter",
    help: "Chat and embeddings requests by response-cache result: hit (served from the cache), miss (called the upstream, stored if complete), bypass (cache off, no-store, non-deterministic, or unavailable).",
    labels: ["result"],
  }),
  droppedBatches: family({
    name: "gateway_metrics_dropped_batches_total",
    type: "counter",
    help: "Metric batches an isolate dropped because the metrics Durable Object stayed unreachable.",
    labels: [],
  }),
} as const;

/** Families computed when scraped (not accumulated). */
export const LIVE = {
  breakerState: family({
    name: "gateway_breaker_state",
    type: "gauge",
    help: "Circuit breaker per upstream target: 0 closed, 1 half-open, 2 open.",
    labels: ["target"],
  }),
  queueBacklog: family({
    name: "gateway_queue_backlog",
    type: "gauge",
    help: "Estimate: messages sent minus acked minus dead-lettered, per queue (only once both sides are counted).",
    labels: ["queue"],
  }),
  deadLettersPending: family({
    name: "gateway_dead_letters_pending",
    type: "gauge",
    help: "Dead-lettered messages kept in the database and not yet replayed.",
    labels: ["queue"],
  }),
  deadLettersUnstored: family({
    name: "gateway_dead_letters_unstored",
    type: "gauge",
    help: "Dead letters the dead-letter consumer failed to store in Postgres and is still retrying.",
    labels: ["queue"],
  }),
  deadLetterOldestAge: family({
    name: "gateway_dead_letter_oldest_age_seconds",
    type: "gauge",
    help: "Age of the oldest dead letter: stage=unstored (still in the queue, Postgres has not taken it), stage=pending (in the dead_letter table, not replayed).",
    labels: ["queue", "stage"],
  }),
  lastMerge: family({
    name: "gateway_metrics_last_merge_timestamp_seconds",
    type: "gauge",
    help: "When an isolate last delivered metrics to the aggregating Durable Object (unix seconds).",
    labels: [],
  }),
  sourceUp: family({
    name: "gateway_metrics_source_up",
    type: "gauge",
    help: "Whether a scrape-time source answered (aggregator, breakers, database): 1 yes, 0 no.",
    labels: ["source"],
  }),
} as const;

export type StoredFamily = (typeof STORED)[keyof typeof STORED];
export type CounterFamily = Extract<StoredFamily, { type: "counter" }>;
export type HistogramFamily = Extract<StoredFamily, { type: "histogram" }>;
export type LabelsOf<F extends Family> = { [K in F["labels"][number]]: string };

const storedByName = new Map<string, Family>(Object.values(STORED).map((f) => [f.name, f]));

export function storedFamily(name: string): Family | undefined {
  return storedByName.get(name);
}

/** Every family in exposition order. */
export const ALL_FAMILIES: readonly Family[] = [...Object.values(STORED), ...Object.values(LIVE)];
