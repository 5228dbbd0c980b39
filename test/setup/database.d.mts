// Types for database.mjs (a plain ESM module run by the vitest global setup in Node).
export interface TestDatabase {
  kind: "postgres" | "pglite";
  /** Connection string of the migrated test database. */
  databaseUrl: string;
  /** `host:port` of the WS-to-TCP proxy the Neon driver uses locally (DB_WS_PROXY). */
  dbWsProxy: string;
  close(): Promise<void>;
}
export function startTestDatabase(options?: {
  prefer?: "" | "pglite" | "postgres" | string;
  adminUrl?: string;
  log?: (line: string) => void;
}): Promise<TestDatabase>;
