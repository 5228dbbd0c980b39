// Worker bindings and the zod-checked settings derived from them (parsed once per isolate).
import { z } from "zod";
import type { TenantGuard } from "../durable-objects/tenant-guard";
import type { UpstreamHealth } from "../durable-objects/upstream-health";
import type { GatewayMetrics } from "../durable-objects/gateway-metrics";
import type { GlobalLimiter } from "../durable-objects/global-limiter";
import type { BanditStats } from "../durable-objects/bandit-stats";

export interface Env {
  CONFIG_KV: KVNamespace;
  TENANT_GUARD: DurableObjectNamespace<TenantGuard>;
  UPSTREAM_HEALTH: DurableObjectNamespace<UpstreamHealth>;
  GATEWAY_METRICS: DurableObjectNamespace<GatewayMetrics>;
  GLOBAL_LIMITER: DurableObjectNamespace<GlobalLimiter>;
  BANDIT_STATS: DurableObjectNamespace<BanditStats>;
  BILLING_QUEUE: Queue<unknown>;
  AUDIT_QUEUE: Queue<unknown>;
  BILLING_DLQ: Queue<unknown>;
  AUDIT_DLQ: Queue<unknown>;
  // vars
  ENVIRONMENT?: string;
  ALLOW_LOOPBACK_UPSTREAMS?: string;
  CONFIG_CACHE_TTL_MS?: string;
  MAX_REQUEST_BYTES?: string;
  MAX_RESPONSE_BYTES?: string;
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS?: string;
  UPSTREAM_IDLE_TIMEOUT_MS?: string;
  CLIENT_IDLE_TIMEOUT_MS?: string;
  AUDIT_LOG_RETENTION_DAYS?: string;
  /** Queue consumers' back-off (queues/retry-policy.ts); production defaults when unset. */
  QUEUE_RETRY_BASE_SECONDS?: string;
  QUEUE_RETRY_MAX_SECONDS?: string;
  DEAD_LETTER_RETRY_BASE_SECONDS?: string;
  DEAD_LETTER_RETRY_MAX_SECONDS?: string;
  DEAD_LETTER_MAX_RETRIES?: string;
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
  upstreamFirstByteTimeoutMs: intFromString(30_000),
  upstreamIdleTimeoutMs: intFromString(30_000),
  // Below the 30 s a Worker's waitUntil work may run after its client disconnected, so a vanished
  // client's stream is always ended (and billed) by this deadline, even when no cancel reaches it.
  clientIdleTimeoutMs: intFromString(20_000),
  auditLogRetentionDays: intFromString(30),
});

export type Settings = z.output<typeof SettingsSchema>;

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
    upstreamFirstByteTimeoutMs: env.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    upstreamIdleTimeoutMs: env.UPSTREAM_IDLE_TIMEOUT_MS,
    clientIdleTimeoutMs: env.CLIENT_IDLE_TIMEOUT_MS,
    auditLogRetentionDays: env.AUDIT_LOG_RETENTION_DAYS,
  });
  cached = { source: env, settings };
  return settings;
}

/** Reads a secret by the name a provider preset gives; never logged. */
export function secretNamed(env: Env, name: string): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}
