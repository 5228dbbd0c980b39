// Types the `env` of `cloudflare:test` as the Worker's own Env plus test-only bindings.
import type { Env as WorkerEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      MOCK_PROVIDER_URL: string;
      MOCK_API_KEY: string;
      DATABASE_URL: string;
      DB_WS_PROXY: string;
      TEST_DB_KIND: "postgres" | "pglite";
      TEST_REDIS_REST_URL: string;
      TEST_REDIS_REST_TOKEN: string;
      TEST_RUNTIME_LOG_URL: string;
      TEST_HANG_UP_DB_PROXY: string;
    }
  }
}
export {};
