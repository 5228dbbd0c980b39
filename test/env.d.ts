// Types the `env` of `cloudflare:test` as the Worker's own Env plus test-only bindings.
import type { Env } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends import("../src/env").Env {
      MOCK_PROVIDER_URL: string;
    }
  }
}
export type { Env };
