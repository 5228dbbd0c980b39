// Types for runtime-log.mjs (run by the vitest global setup in Node).
export interface RuntimeLogWatch {
  /** GET `${url}/uncaught?begin=MARK&end=MARK` answers `{ uncaught: string[] }` once the end mark is logged. */
  url: string;
  close(): Promise<void>;
}
export function startRuntimeLogWatch(): Promise<RuntimeLogWatch>;
