// Consumer of the gateway-batch queue: one message per few lines of a batch. Each line is claimed in its batch's
// object (durable-objects/batch-job.ts) before anything runs, read from the input file in R2 by its byte
// range, run through its creator's channel workflow in process (src/pipeline/run-batch-line.ts), recorded
// in the object and only then billed and audited. A refusal for the owner's limits or an overload gives the
// claim back and retries the message later; a redelivered message finds the line claimed or done.
import { z } from "zod";
import type { Env } from "../src/env";
import { fail, type GatewayFailure } from "../src/errors";
import { guardFor } from "../src/objects";
import { batchFor } from "../src/batches/client";
import { linePrincipal } from "../src/batches/line-principal";
import { errorLine, runBatchLine } from "../src/pipeline/run-batch-line";
import type { BatchLineMessage, ClaimedLine, LineResult } from "../src/batches/types";

export const BatchLineMessageSchema = z
  .object({ v: z.literal(1), batch_id: z.string().min(1), owner: z.string().min(1), from: z.number().int().nonnegative(), to: z.number().int().positive() })
  .refine((m) => m.to > m.from && m.to - m.from <= 100, "from..to spans 1 to 100 lines");

/** Lines of one delivered batch run at once: enough to keep an upstream busy, few enough to stay polite to the owner's limits. */
const LINES_AT_ONCE = 32;
/** A result larger than this is kept in R2 until the files are written (a Durable Object's value is at most 2 MB). */
const MAX_STORED_RESULT = 1_500_000;
const decoder = new TextDecoder();

/** Delay before a refused line is tried again: the refusal's Retry-After, else growing with its deliveries, at most 60 s. */
export function refusalDelaySeconds(failure: GatewayFailure, attempts: number): number {
  const hinted = failure.retryAfterSeconds;
  const grown = Math.min(60, 2 ** Math.min(attempts, 6));
  return Math.max(1, Math.ceil(hinted ?? grown));
}

/** What became of one line: finished (run, stopped or done before), or to be tried again after a delay. */
type LineFate = { again: false } | { again: true; delaySeconds: number };

/**
 * Every line of every message goes through one pool of LINES_AT_ONCE workers; a message is acked once all
 * of its lines are finished, else retried after the longest delay its lines asked for (the lines already
 * done are skipped then, by their claims).
 */
export async function consumeBatchLines(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const work: { message: Message<unknown>; body: BatchLineMessage; n: number }[] = [];
  const fates = new Map<Message<unknown>, LineFate[]>();
  for (const message of batch.messages) {
    const parsed = BatchLineMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      // Never retried (it cannot succeed): its dead-letter consumer logs it.
      await env.BATCH_DLQ.send({ reason: "invalid batch line message", body: message.body }, { contentType: "json" });
      message.ack();
      continue;
    }
    fates.set(message, []);
    for (let n = parsed.data.from; n < parsed.data.to; n++) work.push({ message, body: parsed.data, n });
  }
  const worker = async () => {
    for (let item = work.shift(); item; item = work.shift()) {
      let fate: LineFate;
      try {
        fate = await handleLine(item.body, item.n, item.message.attempts, env, ctx);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "batch line failed; message retried", batch_id: item.body.batch_id, n: item.n, error: String(error) }));
        fate = { again: true, delaySeconds: Math.min(60, 2 ** Math.min(item.message.attempts, 6)) };
      }
      fates.get(item.message)!.push(fate);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LINES_AT_ONCE, work.length) }, worker));
  for (const [message, lines] of fates) {
    const delays = lines.flatMap((f) => (f.again ? [f.delaySeconds] : []));
    if (delays.length === 0) message.ack();
    else message.retry({ delaySeconds: Math.max(...delays) });
  }
}

async function handleLine(body: BatchLineMessage, n: number, attempts: number, env: Env, exec: ExecutionContext): Promise<LineFate> {
  const { batch_id: batchId, owner } = body;
  const job = batchFor(env, owner, batchId);
  const claim = await job.claim(n);
  if (!claim.run) {
    // Done, stopped or unknown: nothing to run. Busy: another delivery holds a live lease; look again when it lapses.
    return claim.reason === "busy" ? { again: true, delaySeconds: Math.max(1, Math.ceil(claim.retryInMs / 1000)) } : { again: false };
  }
  // The earlier attempt's consumer died during its call: its hold goes back before the rerun, so only this attempt is charged.
  if (claim.previousRequestId) await guardFor(env, claim.creator.tenantId).release(claim.previousRequestId).catch(() => undefined);
  const prepared = await prepare(env, claim);
  if (!prepared.ok) {
    await complete(env, job, n, claim, { ok: false, text: errorLine(batchId, n, claim.line.customId, prepared.failure, null) });
    return { again: false };
  }
  const outcome = await runBatchLine({ env, exec, claimed: claim, n, principal: prepared.principal, body: prepared.body });
  if (outcome.kind === "retry") {
    await job.release(n, claim.gen);
    await outcome.finish();
    return { again: true, delaySeconds: refusalDelaySeconds(outcome.failure, attempts) };
  }
  const { accepted } = await complete(env, job, n, claim, { ok: outcome.ok, text: outcome.text });
  await outcome.finish(accepted);
  return { again: false };
}

type Prepared = { ok: true; principal: Parameters<typeof runBatchLine>[0]["principal"]; body: Uint8Array } | { ok: false; failure: GatewayFailure };

/** The line's bytes and the principal it runs as; a failure here is the line's (an error-file entry), never the batch's. */
async function prepare(env: Env, claim: ClaimedLine): Promise<Prepared> {
  const principal = await linePrincipal(env, claim.creator);
  if (!principal.ok) return { ok: false, failure: principal.failure };
  const object = await env.FILES_BUCKET.get(claim.inputKey, { range: { offset: claim.line.offset, length: claim.line.length } });
  if (!object) return { ok: false, failure: fail("not_found", "The batch's input file was deleted before this line ran.") };
  const line = JSON.parse(decoder.decode(await object.arrayBuffer())) as { body?: unknown };
  const body = line.body as Record<string, unknown>;
  // Batch answers are whole JSON bodies: a line asking for a stream is refused, not run.
  if (body.stream === true) return { ok: false, failure: fail("invalid_request", "stream: batch requests cannot stream.", { param: "body.stream" }) };
  return { ok: true, principal: principal.value, body: new TextEncoder().encode(JSON.stringify(body)) };
}

async function complete(env: Env, job: ReturnType<typeof batchFor>, n: number, claim: ClaimedLine, result: { ok: boolean; text: string }): Promise<{ accepted: boolean }> {
  if (result.text.length <= MAX_STORED_RESULT) return job.complete(n, claim.gen, { ok: result.ok, text: result.text });
  const key = `batch-results/${encodeURIComponent(claim.owner)}/${claim.batchId}/${n}-${claim.gen}`;
  await env.FILES_BUCKET.put(key, result.text);
  const stored: LineResult = { ok: result.ok, text: null, r2Key: key };
  return job.complete(n, claim.gen, stored);
}

/** The dead-letter consumer: a line whose messages ran out of retries becomes an error-file entry, so its batch still finishes. */
export async function consumeBatchDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = BatchLineMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: "error", msg: "invalid batch line message dropped", id: message.id }));
      message.ack();
      continue;
    }
    try {
      const job = batchFor(env, parsed.data.owner, parsed.data.batch_id);
      // Lines of the message already done keep their results (failLine leaves them alone).
      for (let n = parsed.data.from; n < parsed.data.to; n++) await job.failLine(n, "line_not_run", "The line could not be run within its retries (the owner's limits or the upstream stayed unavailable).");
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "batch dead letter not recorded; retried", id: message.id, error: String(error) }));
      message.retry({ delaySeconds: 30 });
    }
  }
}

export type { BatchLineMessage };
