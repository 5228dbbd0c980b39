// Worker bindings and the zod-checked settings derived from them (parsed once per isolate).
import { z } from "zod";
import { parseEgressAllowedHosts } from "./security/egress-hosts";

/**
 * The bindings and vars wrangler.toml declares, as `wrangler types` generates them (worker-configuration.d.ts;
 * `npm run types` after changing wrangler.toml, and CI fails while it is stale). Production's are the
 * reference: scripts/wrangler-environments.test.ts keeps every environment's bindings and var names the same.
 */
type Declared = Cloudflare.ProductionEnv;
/** The vars: plain strings in wrangler.toml, absent or overridden in tests and local runs (settingsOf applies defaults). */
type VarName = { [K in keyof Declared]: Declared[K] extends string ? K : never }[keyof Declared];

export interface Env extends Omit<Declared, VarName>, Partial<Pick<Declared, VarName>> {
  // vars that wrangler.toml may leave unset
  /** Comma-separated upstream host patterns (`api.openai.com`, `*.openai.azure.com`); unset = the supported providers' hosts. */
  EGRESS_ALLOWED_HOSTS?: string;
  // secrets
  ADMIN_TOKEN?: string;
  MASTER_KEY?: string;
  DATABASE_URL?: string;
  /** host:port of the local WebSocket-to-TCP proxy the Neon driver uses for a local Postgres; unset in production. */
  DB_WS_PROXY?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  // Upstream credentials are further secrets named by provider presets (e.g. MOCK_API_KEY): see secretNamed.
}

/**
 * Every name the gateway itself reads from its environment: never an upstream credential, whatever
 * PROVIDER_SECRETS says (a preset naming ADMIN_TOKEN would send it to the upstream). The compiler
 * keeps this in step with Env: a new binding, var or secret must be added here.
 */
const GATEWAY_OWN_NAMES = {
  CONFIG_KV: true, FILES_BUCKET: true, MAX_FILE_BYTES: true, TENANT_GUARD: true, UPSTREAM_HEALTH: true, GATEWAY_METRICS: true, GLOBAL_LIMITER: true, BANDIT_STATS: true, ADMIN_ACCESS: true, BATCH_JOB: true,
  BILLING_QUEUE: true, AUDIT_QUEUE: true, BILLING_DLQ: true, AUDIT_DLQ: true, BATCH_QUEUE: true, BATCH_DLQ: true, ENVIRONMENT: true, ALLOW_LOOPBACK_UPSTREAMS: true,
  CONFIG_CACHE_TTL_MS: true, MAX_REQUEST_BYTES: true, MAX_RESPONSE_BYTES: true, UPSTREAM_FIRST_BYTE_TIMEOUT_MS: true,
  UPSTREAM_IDLE_TIMEOUT_MS: true, CLIENT_IDLE_TIMEOUT_MS: true, AUDIT_LOG_RETENTION_DAYS: true, QUEUE_RETRY_BASE_SECONDS: true,
  QUEUE_RETRY_MAX_SECONDS: true, DEAD_LETTER_RETRY_BASE_SECONDS: true, DEAD_LETTER_RETRY_MAX_SECONDS: true, DEAD_LETTER_MAX_RETRIES: true,
  PROVIDER_SECRETS: true, EGRESS_ALLOWED_HOSTS: true, ADMIN_TOKEN: true, MASTER_KEY: true, DATABASE_URL: true, DB_WS_PROXY: true,
  UPSTASH_REDIS_REST_URL: true, UPSTASH_REDIS_REST_TOKEN: true,
} as const satisfies Record<keyof Env, true>;
/** Families the gateway (or its test harness) owns as a whole, future members included. */
const GATEWAY_OWN_PREFIXES = ["UPSTASH_", "ADMIN_", "MASTER_", "DATABASE_", "DB_", "TEST_"];

const SECRET_NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Why `name` may not be used as a preset's upstream credential, or undefined when it may: it must be
 * listed in PROVIDER_SECRETS and must not be one of the gateway's own names. Never reads the secret.
 */
export function providerSecretRefusal(settings: Settings, name: string): string | undefined {
  if (Object.hasOwn(GATEWAY_OWN_NAMES, name) || GATEWAY_OWN_PREFIXES.some((p) => name.startsWith(p))) {
    return `${name} is one of the gateway's own settings, never an upstream credential`;
  }
  if (!settings.providerSecrets.includes(name)) return `${name} is not listed in PROVIDER_SECRETS`;
  return undefined;
}

const intFromString = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : Number(v)))
    .pipe(z.number().int().nonnegative());

const SettingsSchema = z.object({
  environment: z.string().optional().transform((v) => v ?? "production"),
  allowLoopbackUpstreams: z
    .string()
    .optional()
    .transform((v) => v === "true"),
  configCacheTtlMs: intFromString(5_000),
  maxRequestBytes: intFromString(1_048_576),
  maxResponseBytes: intFromString(8_388_608),
  /** Largest file POST /files accepts (100 MB): docs/api/batches.md. */
  maxFileBytes: intFromString(104_857_600),
  upstreamFirstByteTimeoutMs: intFromString(30_000),
  upstreamIdleTimeoutMs: intFromString(30_000),
  // Below the 30 s a Worker's waitUntil work may run after its client disconnected, so a vanished
  // client's stream is always ended (and billed) by this deadline, even when no cancel reaches it.
  clientIdleTimeoutMs: intFromString(20_000),
  auditLogRetentionDays: intFromString(30),
  providerSecrets: z
    .string()
    .optional()
    .transform((v) => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""))
    .pipe(z.array(z.string().regex(SECRET_NAME, "PROVIDER_SECRETS: names are upper-case letters, digits and _"))),
  egressAllowedHosts: z.string().optional().transform(parseEgressAllowedHosts),
});

export type Settings = z.output<typeof SettingsSchema>;

/** Loopback upstreams (the mock provider) only in local development and tests, never in production by mistake. */
const LOOPBACK_ENVIRONMENTS = new Set(["development", "test"]);

let cached: { source: Env; settings: Settings } | undefined;

/** Parses the vars once per isolate; a bad value fails loudly at the first request. */
export function settingsOf(env: Env): Settings {
  if (cached?.source === env) return cached.settings;
  const settings = SettingsSchema.parse({
    environment: env.ENVIRONMENT,
    allowLoopbackUpstreams: env.ALLOW_LOOPBACK_UPSTREAMS,
    configCacheTtlMs: env.CONFIG_CACHE_TTL_MS,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    maxResponseBytes: env.MAX_RESPONSE_BYTES,
    maxFileBytes: env.MAX_FILE_BYTES,
    upstreamFirstByteTimeoutMs: env.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    upstreamIdleTimeoutMs: env.UPSTREAM_IDLE_TIMEOUT_MS,
    clientIdleTimeoutMs: env.CLIENT_IDLE_TIMEOUT_MS,
    auditLogRetentionDays: env.AUDIT_LOG_RETENTION_DAYS,
    providerSecrets: env.PROVIDER_SECRETS,
    egressAllowedHosts: env.EGRESS_ALLOWED_HOSTS,
  });
  settings.allowLoopbackUpstreams &&= LOOPBACK_ENVIRONMENTS.has(settings.environment);
  cached = { source: env, settings };
  return settings;
}

/** Reads a secret by the name a provider preset gives; never logged. */
export function secretNamed(env: Env, name: string): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}
