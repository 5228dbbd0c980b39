// Types for hang-up-db.mjs (run by the vitest global setup in Node).
export function startHangUpDb(): Promise<{ address: string; close(): Promise<void> }>;
