// Types for redis-rest.mjs (a plain ESM module run by the vitest global setup in Node).
export interface RedisRest {
  url: string;
  token: string;
  close(): Promise<void>;
}
export function startRedisRest(options?: {
  redisHost?: string;
  redisPort?: number;
  port?: number;
  token?: string;
  log?: (line: string) => void;
}): Promise<RedisRest | null>;
export function createRespClient(options?: { host?: string; port?: number; connectTimeoutMs?: number }): {
  send(commands: Array<Array<string | number | Uint8Array>>): Promise<unknown[]>;
  close(): void;
};
