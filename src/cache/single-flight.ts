// Single flight per isolate: concurrent identical misses make one upstream call. The first miss for a
// key leads; the others wait for its answer (bounded) and are served it as hits. Across isolates there
// is no coordination: each isolate's leader calls once, and later requests anywhere hit the shared tier
// (docs/api/cache.md says why that is enough).
import type { StoredEntry } from "./entry";

export interface Flight {
  readonly landed: Promise<StoredEntry | null>;
  land(result: StoredEntry | null): void;
}

const flights = new Map<string, Flight>();

export type Boarding = { role: "lead"; flight: Flight } | { role: "follow"; landed: Promise<StoredEntry | null> };

/** Leads the key's flight when none is in the air, else follows the one that is. */
export function board(key: string): Boarding {
  const current = flights.get(key);
  if (current) return { role: "follow", landed: current.landed };
  let resolve!: (value: StoredEntry | null) => void;
  const landed = new Promise<StoredEntry | null>((r) => (resolve = r));
  let done = false;
  const flight: Flight = {
    landed,
    land(result) {
      if (done) return;
      done = true;
      if (flights.get(key) === flight) flights.delete(key);
      resolve(result);
    },
  };
  flights.set(key, flight);
  return { role: "lead", flight };
}

/** Waits for a flight at most `ms`; null when it landed with nothing or took too long. */
export async function awaitFlight(landed: Promise<StoredEntry | null>, ms: number): Promise<StoredEntry | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([landed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Flights in the air (tests and metrics). */
export function flightsInAir(): number {
  return flights.size;
}
