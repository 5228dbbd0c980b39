// Client Idempotency-Keys of one tenant: claimed at admission, completed (with the response to replay) or
// freed from the completion path, forgotten 24 h after first use.
import { fail, type GatewayFailure } from "../../src/errors";
import type { AdmissionResult, IdempotencyClaim, IdempotencyFinish, StoredResponse } from "../../src/guard/types";

/** A key is remembered this long after the request that first used it was admitted. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** The largest response kept for replay; a larger one leaves the key "completed, not replayable". */
export const MAX_REPLAY_BYTES = 1_048_576;
/** What an in_use answer asks the client to wait before retrying. */
export const IN_USE_RETRY_AFTER_SECONDS = 1;

const State = { inFlight: 0, completed: 1, tooLarge: 2 } as const;

type Row = {
  key: string;
  fingerprint: string;
  hold_id: string;
  state: number;
  expires_at: number;
  inflight_until: number;
  status: number | null;
  headers: string | null;
  body: ArrayBuffer | null;
  stream: number;
  body_bytes: number;
};

/** What an earlier use of the key decides for a new request; undefined means proceed (and claim it). */
export type Seen = { failure: GatewayFailure; replay?: StoredResponse };

export class IdempotencyBook {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** The answer for a request carrying `claim`, from the key's live row (expired rows count as absent). */
  check(claim: IdempotencyClaim, now: number): Seen | undefined {
    const row = this.#sql.exec<Row>(`SELECT * FROM idempotency WHERE key = ? AND expires_at > ?`, claim.key, now).toArray()[0];
    if (row === undefined) return undefined;
    if (row.fingerprint !== claim.fingerprint) {
      return { failure: fail("idempotency_key_conflict", "This Idempotency-Key was already used with a different request (method, path or body). Use a new key for a new request.", { param: "Idempotency-Key" }) };
    }
    if (row.state === State.inFlight) {
      // A claim whose request never reported back (its worker died) lapses with its hold.
      if (row.inflight_until <= now) return undefined;
      return {
        failure: fail("idempotency_key_in_use", "A request with this Idempotency-Key is still in progress; retry after Retry-After to get its response.", {
          param: "Idempotency-Key",
          retryAfterSeconds: IN_USE_RETRY_AFTER_SECONDS,
        }),
      };
    }
    if (row.state === State.tooLarge || row.body === null || row.status === null) {
      return {
        failure: fail("idempotency_key_conflict", `The request with this Idempotency-Key completed, but its response (${row.body_bytes} bytes) exceeds the ${MAX_REPLAY_BYTES}-byte replay limit and was not kept. Use a new key to send it again.`, { param: "Idempotency-Key" }),
      };
    }
    const replay: StoredResponse = { status: row.status, headers: JSON.parse(row.headers ?? "{}") as Record<string, string>, body: new Uint8Array(row.body), stream: row.stream === 1 };
    // Only a safe fallback: the gateway answers with `replay`, so no client ever sees this 409.
    return { failure: fail("idempotency_key_conflict", "This Idempotency-Key's stored response is replayed.", { param: "Idempotency-Key" }), replay };
  }

  /** Marks the key in flight for the admitted request (replacing an expired or lapsed row). */
  claim(claim: IdempotencyClaim, holdId: string, now: number, inflightMs: number): void {
    this.#sql.exec(
      `INSERT OR REPLACE INTO idempotency (key, fingerprint, hold_id, state, created_at, expires_at, inflight_until, status, headers, body, stream, body_bytes)
       VALUES (?, ?, ?, 0, ?, ?, ?, NULL, NULL, NULL, 0, 0)`,
      claim.key,
      claim.fingerprint,
      holdId,
      now,
      now + IDEMPOTENCY_TTL_MS,
      now + inflightMs,
    );
  }

  /** Applies a finished request's outcome, only if the key is still claimed by that request's hold. */
  finish(f: IdempotencyFinish): boolean {
    const row = this.#sql.exec<{ hold_id: string; state: number }>(`SELECT hold_id, state FROM idempotency WHERE key = ?`, f.key).toArray()[0];
    if (row === undefined || row.hold_id !== f.holdId || row.state !== State.inFlight) return false;
    if (f.outcome === "failed") {
      this.#sql.exec(`DELETE FROM idempotency WHERE key = ?`, f.key);
    } else if (f.outcome === "too_large" || f.response.body.byteLength > MAX_REPLAY_BYTES) {
      const bytes = f.outcome === "too_large" ? f.bytes : f.response.body.byteLength;
      this.#sql.exec(`UPDATE idempotency SET state = ?, body_bytes = ? WHERE key = ?`, State.tooLarge, bytes, f.key);
    } else {
      const r = f.response;
      const body = r.body.buffer.slice(r.body.byteOffset, r.body.byteOffset + r.body.byteLength);
      this.#sql.exec(
        `UPDATE idempotency SET state = ?, status = ?, headers = ?, body = ?, stream = ?, body_bytes = ? WHERE key = ?`,
        State.completed,
        r.status,
        JSON.stringify(r.headers),
        body,
        r.stream ? 1 : 0,
        r.body.byteLength,
        f.key,
      );
    }
    return true;
  }

  /** A released or expired hold frees the key its request claimed (nothing was answered). */
  freeHold(holdId: string): void {
    this.#sql.exec(`DELETE FROM idempotency WHERE hold_id = ? AND state = 0`, holdId);
  }

  prune(now: number): void {
    this.#sql.exec(`DELETE FROM idempotency WHERE expires_at <= ?`, now);
  }

  /** When the oldest remembered key expires, if any. */
  nextExpiry(): number | null {
    return this.#sql.exec<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM idempotency`).one().at;
  }

  /** Keys remembered, by state (for snapshots and tests). */
  counts(): { inFlight: number; completed: number } {
    const rows = this.#sql.exec<{ state: number; n: number }>(`SELECT state, COUNT(*) AS n FROM idempotency GROUP BY state`).toArray();
    const of = (s: number) => rows.find((r) => r.state === s)?.n ?? 0;
    return { inFlight: of(State.inFlight), completed: of(State.completed) + of(State.tooLarge) };
  }
}

/** Whether a refusal came from the key's state (never remembered per request id: the state moves on). */
export function isIdempotencyAnswer(result: AdmissionResult): boolean {
  return !result.ok && (result.replay !== undefined || result.failure.param === "Idempotency-Key");
}
