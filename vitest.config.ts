// Two projects: "workers" runs inside workerd with real bindings; "node" runs the end-to-end suites.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        extends: true,
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ENVIRONMENT: "test",
                ALLOW_LOOPBACK_UPSTREAMS: "true",
                // Small limits so hostile-upstream tests run in milliseconds, not minutes.
                MAX_RESPONSE_BYTES: "2000000",
                // Above one 5 MiB R2 part (multipart uploads are exercised), below what a test can send quickly.
                MAX_FILE_BYTES: "8000000",
                UPSTREAM_IDLE_TIMEOUT_MS: "1000",
                UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "3000",
                ADMIN_TOKEN: "test-admin-token",
                MASTER_KEY: "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchIQ==",
                MOCK_API_KEY: "mock-upstream-key",
                // The mock provider's key is the only upstream credential a test preset may name.
                PROVIDER_SECRETS: "MOCK_API_KEY",
                MOCK_PROVIDER_URL: inject("mockProviderUrl"),
                DATABASE_URL: inject("databaseUrl"),
                DB_WS_PROXY: inject("dbWsProxy"),
                TEST_DB_KIND: inject("dbKind"),
                TEST_REDIS_REST_URL: inject("redisRestUrl"),
                TEST_REDIS_REST_TOKEN: inject("redisRestToken"),
                TEST_RUNTIME_LOG_URL: inject("runtimeLogUrl"),
                TEST_HANG_UP_DB_PROXY: inject("hangUpDbProxy"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["src/**/*.test.ts", "durable-objects/**/*.test.ts", "queues/**/*.test.ts", "test/integration/**/*.test.ts"],
          // Tests wait on conditions, not the clock; on 2 shared cores a fair wait (a rate window's
          // edge, a queue batch) can pass vitest's 5 s default, which then fails a correct test.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "node",
          environment: "node",
          include: ["test/e2e/**/*.test.ts", "test/mock-provider/**/*.test.ts", "scripts/**/*.test.ts", "test/setup/**/*.test.ts", "bench/**/*.test.ts", "sim/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
