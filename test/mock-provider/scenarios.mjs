// Named scenarios of the mock provider: validated settings, request log, failure counter, render cache.

export const FAULTS = [
  "reset_mid_stream", "slow_drip", "oversized", "endless", "malformed_sse", "no_usage", "hang", "idle_gap", "tool_call",
];

/** @type {Record<string, (v: unknown) => boolean>} */
const RULES = {
  latency_ms: (v) => isCount(v),
  chunks: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 1,
  chunk_delay_ms: (v) => isCount(v),
  completion_tokens: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0,
  status: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 400 && /** @type {number} */ (v) <= 599,
  error_message: (v) => typeof v === "string",
  retry_after: (v) => isCount(v),
  fail_times: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0,
  fault: (v) => typeof v === "string" && FAULTS.includes(v),
  fault_after_chunks: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0,
  drip_ms: (v) => isCount(v),
  oversized_bytes: (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0,
  idle_gap_ms: (v) => isCount(v),
  usage_details: (v) => isUsageDetails(v),
  service_tier: (v) => typeof v === "string" && v.length > 0 && v.length <= 32,
};

/** Usage parts the answer reports (content.mjs reportedUsage): each a whole count, none required. */
export const USAGE_DETAILS = ["cached_tokens", "cache_creation_tokens", "audio_prompt_tokens", "reasoning_tokens", "audio_completion_tokens", "web_search_requests"];

/** @param {unknown} v */
function isUsageDetails(v) {
  if (!v || typeof v !== "object" || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, n]) => USAGE_DETAILS.includes(k) && Number.isInteger(n) && /** @type {number} */ (n) >= 0);
}

/** @param {unknown} v */
function isCount(v) {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/**
 * @param {unknown} input
 * @returns {{ ok: true, settings: Record<string, any> } | { ok: false, error: string }}
 */
export function parseSettings(input) {
  if (!input || typeof input !== "object" || Array.isArray(input)) return { ok: false, error: "settings must be a JSON object" };
  /** @type {Record<string, any>} */
  const settings = {};
  for (const [key, value] of Object.entries(input)) {
    const rule = RULES[key];
    // Unknown keys are refused so a typo in a test's settings fails loudly instead of doing nothing.
    if (!rule) return { ok: false, error: `unknown setting "${key}"; known: ${Object.keys(RULES).join(", ")}` };
    if (value === null) continue;
    if (!rule(value)) return { ok: false, error: `invalid value for "${key}": ${JSON.stringify(value)}` };
    settings[key] = value;
  }
  return { ok: true, settings };
}

const LOG_SIZE = 50;
const CACHE_SIZE = 512;

/**
 * @typedef {object} LoggedRequest
 * @property {string} method
 * @property {string} path
 * @property {string} query
 * @property {Record<string, string | string[] | undefined>} headers
 * @property {string} body
 */

export class Scenario {
  /** @param {string} name */
  constructor(name) {
    this.name = name;
    /** @type {Record<string, any>} */
    this.settings = {};
    this.reset();
  }

  reset() {
    this.settings = {};
    /** requests received since the last reset; also numbers the response ids */
    this.count = 0;
    /** responses whose client hung up before they were complete */
    this.disconnects = 0;
    /** @type {LoggedRequest[]} ring buffer of the last LOG_SIZE requests */
    this.log = [];
    this.resetSettingsState();
  }

  /** @param {Record<string, any>} settings */
  configure(settings) {
    this.settings = settings;
    this.resetSettingsState();
  }

  resetSettingsState() {
    /** errors already answered under fail_times */
    this.failed = 0;
    /** @type {Map<string, any>} rendered answers by route and raw body; depends on settings */
    this.cache = new Map();
  }

  /** @param {LoggedRequest} entry @returns {number} this request's number, from 1 */
  record(entry) {
    this.log[this.count % LOG_SIZE] = entry;
    return ++this.count;
  }

  /** Whether this request is answered with settings.status (fail_times alone means 503). */
  shouldFail() {
    const s = this.settings;
    if (s.status === undefined && s.fail_times === undefined) return false;
    if (s.fail_times === undefined) return true;
    if (this.failed >= s.fail_times) return false;
    this.failed++;
    return true;
  }

  /** @param {string} key @param {() => any} make */
  cached(key, make) {
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = make();
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** The log oldest first, bodies parsed as JSON where they are JSON. */
  requests() {
    const n = Math.min(this.count, LOG_SIZE);
    const start = this.count - n;
    const out = [];
    for (let i = start; i < this.count; i++) {
      const e = /** @type {LoggedRequest} */ (this.log[i % LOG_SIZE]);
      out.push({ method: e.method, path: e.path, query: Object.fromEntries(new URLSearchParams(e.query)), headers: e.headers, body: parseBody(e.body) });
    }
    return { count: this.count, disconnects: this.disconnects, requests: out };
  }
}

/** @param {string} raw */
function parseBody(raw) {
  if (raw === "") return null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export const SCENARIO_NAME = /^[A-Za-z0-9_.~-]{1,128}$/;

export class ScenarioStore {
  constructor() {
    /** @type {Map<string, Scenario>} */
    this.byName = new Map();
  }

  /** @param {string} name */
  get(name) {
    let s = this.byName.get(name);
    if (!s) {
      s = new Scenario(name);
      this.byName.set(name, s);
    }
    return s;
  }
}
