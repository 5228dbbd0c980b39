// BatchJob: one Durable Object per batch (named by owner and batch id), the one place its state is kept
// exactly: the OpenAI batch object, and each line's claim and result. A line is claimed here before its
// upstream call, under a lease: a redelivered message finds it claimed or done and never runs it twice;
// only a claim whose consumer died (lease over) is given again. The alarm sends the lines' queue messages
// in pages, stops the batch at its expiry, and writes the output and error files once every line is done.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import { writeOutputFile } from "../src/batches/output-file";
import { newFileId } from "../src/files/store";
import { LINE_LEASE_MS, LINES_PER_MESSAGE, lineRequestId, outputLineId, type BatchInit, type BatchLineMessage, type BatchObject, type ClaimAnswer, type LineResult } from "../src/batches/types";
import { JobStore, LineState, type Job } from "./batch-job/store";

/** Lines whose messages one alarm run sends (100 messages per sendBatch); the next run follows at once. */
const ENQUEUE_PER_ALARM = 10_000;
const SEND_BATCH = 100 * LINES_PER_MESSAGE;

const seconds = (ms: number) => Math.floor(ms / 1000);

export class BatchJob extends DurableObject<Env> {
  #store!: JobStore;
  #job: Job | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#store = new JobStore(ctx.storage);
      this.#job = this.#store.loadJob();
    });
  }

  /** Creates the batch (idempotent: a second call answers the existing one) and starts sending its lines. */
  async create(init: BatchInit, now = Date.now()): Promise<BatchObject> {
    if (this.#job) return objectOf(this.#job);
    const job: Job = {
      id: init.id,
      owner: init.owner,
      creator: init.creator,
      channel: init.channel,
      endpoint: init.endpoint,
      inputFileId: init.inputFileId,
      inputKey: init.inputKey,
      metadata: init.metadata,
      status: "in_progress",
      stopping: null,
      total: init.lines.length,
      completed: 0,
      failed: 0,
      enqueued: 0,
      outputFileId: null,
      errorFileId: null,
      times: { created_at: init.createdAt, in_progress_at: seconds(now), expires_at: seconds(now + init.windowMs), finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null },
      expiresAtMs: now + init.windowMs,
    };
    this.#store.transaction(() => {
      this.#store.insertLines(init.lines);
      this.#store.saveJob(job);
    });
    this.#job = job;
    await this.ctx.storage.setAlarm(now);
    return objectOf(job);
  }

  async get(): Promise<BatchObject | null> {
    return this.#job ? objectOf(this.#job) : null;
  }

  /** Lines not yet started never run; running ones finish; then the batch is cancelled (its files hold what ran). */
  async cancel(now = Date.now()): Promise<BatchObject | null> {
    const job = this.#job;
    if (!job) return null;
    if (job.status !== "in_progress" || job.stopping) return objectOf(job);
    job.stopping = "cancelled";
    job.status = "cancelling";
    job.times.cancelling_at = seconds(now);
    this.#store.transaction(() => {
      this.#store.skipUnstarted(now);
      this.#store.saveJob(job);
    });
    await this.ctx.storage.setAlarm(now);
    return objectOf(job);
  }

  /** Claims line `n` for one attempt, before its upstream call. */
  async claim(n: number, now = Date.now()): Promise<ClaimAnswer> {
    const job = this.#job;
    const line = job ? this.#store.line(n) : undefined;
    if (!job || !line) return { run: false, reason: "unknown" };
    if (line.state === LineState.done) return { run: false, reason: "done" };
    if (line.state === LineState.skipped || job.stopping || job.status !== "in_progress") return { run: false, reason: "stopped" };
    if (line.state === LineState.claimed && line.lease_until > now) return { run: false, reason: "busy", retryInMs: line.lease_until - now };
    if (now >= job.expiresAtMs) {
      // The alarm is due: stop here too, so no line starts after the window even if the alarm is late.
      await this.#stop("expired", now);
      return { run: false, reason: "stopped" };
    }
    const gen = line.gen + 1;
    this.#store.claim(n, gen, now + LINE_LEASE_MS);
    return {
      run: true,
      batchId: job.id,
      owner: job.owner,
      creator: job.creator,
      channel: job.channel,
      endpoint: job.endpoint,
      inputKey: job.inputKey,
      line: { lineNo: line.line_no, offset: line.off, length: line.len, customId: line.custom_id },
      gen,
      requestId: lineRequestId(job.id, n, gen),
      // A claimed line whose lease ran out: its consumer died during the call; that attempt's hold is released.
      ...(line.state === LineState.claimed && { previousRequestId: lineRequestId(job.id, n, line.gen) }),
    };
  }

  /** Gives a claimed line back unrun (refused for the owner's limits or an overload): it is claimed again later. */
  async release(n: number, gen: number): Promise<{ released: boolean }> {
    const line = this.#store.line(n);
    if (!line || line.state !== LineState.claimed || line.gen !== gen) return { released: false };
    this.#store.transaction(() => {
      this.#store.release(n);
      // Stopped meanwhile: the line will never start now.
      if (this.#job?.stopping) this.#store.skipUnstarted(Date.now());
    });
    if (this.#job?.stopping) await this.#settleLater();
    return { released: true };
  }

  /**
   * Records line `n`'s result. Only the current claim may: a consumer whose lease lapsed and whose line was
   * claimed again is told `accepted: false` and must not bill. Once every line is done the alarm finalizes.
   */
  async complete(n: number, gen: number, result: LineResult): Promise<{ accepted: boolean }> {
    const job = this.#job;
    const line = job ? this.#store.line(n) : undefined;
    if (!job || !line || line.state !== LineState.claimed || line.gen !== gen) return { accepted: false };
    if (result.ok) job.completed++;
    else job.failed++;
    this.#store.transaction(() => {
      this.#store.finish(n, result.ok, result.text, result.r2Key ?? null);
      this.#store.saveJob(job);
    });
    if (this.#store.count(LineState.pending) + this.#store.count(LineState.claimed) === 0 || job.stopping) await this.#settleLater();
    return { accepted: true };
  }

  /** A line that could not be run at all (its messages ran out of retries): an error-file entry, so the batch can finish. */
  async failLine(n: number, code: string, message: string): Promise<{ failed: boolean }> {
    const job = this.#job;
    const line = job ? this.#store.line(n) : undefined;
    if (!job || !line || line.state === LineState.done || line.state === LineState.skipped) return { failed: false };
    const text = JSON.stringify({ id: outputLineId(job.id, n), custom_id: line.custom_id, response: null, error: { code, message } });
    job.failed++;
    this.#store.transaction(() => {
      this.#store.finish(n, false, text, null);
      this.#store.saveJob(job);
    });
    await this.#settleLater();
    return { failed: true };
  }

  override async alarm(): Promise<void> {
    const job = this.#job;
    if (!job || isFinal(job)) return;
    const now = Date.now();
    if (!job.stopping && now >= job.expiresAtMs) await this.#stop("expired", now);
    if (!job.stopping && job.enqueued < job.total) await this.#enqueue(job);
    if (job.stopping) this.#store.transaction(() => this.#store.skipUnstarted(now));
    if (this.#store.count(LineState.pending) + this.#store.count(LineState.claimed) === 0 && job.enqueued >= job.total) {
      await this.#finalize(job, now);
      return;
    }
    if (job.stopping && this.#store.count(LineState.claimed) === 0) {
      await this.#finalize(job, now);
      return;
    }
    // Next: more lines to send, a lease that may lapse (while stopping), or the expiry.
    const lease = this.#store.nextLeaseEnd();
    const next = !job.stopping && job.enqueued < job.total ? now : Math.min(job.stopping ? (lease ?? now) : job.expiresAtMs, job.expiresAtMs);
    await this.ctx.storage.setAlarm(Math.max(next, now));
  }

  async #stop(reason: "cancelled" | "expired", now: number): Promise<void> {
    const job = this.#job!;
    if (job.stopping) return;
    job.stopping = reason;
    this.#store.transaction(() => {
      this.#store.skipUnstarted(now);
      this.#store.saveJob(job);
    });
    await this.#settleLater();
  }

  async #settleLater(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Sends the next page of line messages; a line skipped meanwhile is not sent. */
  async #enqueue(job: Job): Promise<void> {
    const end = Math.min(job.total, job.enqueued + ENQUEUE_PER_ALARM);
    for (let from = job.enqueued; from < end; from += SEND_BATCH) {
      const to = Math.min(end, from + SEND_BATCH);
      const messages: MessageSendRequest<BatchLineMessage>[] = [];
      // A page of lines skipped meanwhile (cancelled) sends nothing.
      for (let at = from; at < to; at += LINES_PER_MESSAGE) {
        if (this.#store.range(at, Math.min(to, at + LINES_PER_MESSAGE)).length > 0) messages.push({ body: { v: 1, batch_id: job.id, owner: job.owner, from: at, to: Math.min(to, at + LINES_PER_MESSAGE) }, contentType: "json" });
      }
      if (messages.length > 0) await this.env.BATCH_QUEUE.sendBatch(messages);
      job.enqueued = to;
      this.#store.saveJob(job);
    }
  }

  /** Writes the output and error files (what ran), then the final status. Retried by the alarm if R2 fails. */
  async #finalize(job: Job, now: number): Promise<void> {
    if (!job.stopping && job.status === "in_progress") {
      job.status = "finalizing";
      job.times.finalizing_at = seconds(now);
      this.#store.saveJob(job);
    }
    const bucket = this.env.FILES_BUCKET;
    if (job.completed > 0 && !job.outputFileId) job.outputFileId = (await writeOutputFile(bucket, job.owner, `${job.id}_output.jsonl`, this.#lines(true), newFileId())).id;
    if (job.failed > 0 && !job.errorFileId) job.errorFileId = (await writeOutputFile(bucket, job.owner, `${job.id}_error.jsonl`, this.#lines(false), newFileId())).id;
    const at = seconds(Date.now());
    if (job.stopping === "cancelled") {
      job.status = "cancelled";
      job.times.cancelled_at = at;
    } else if (job.stopping === "expired") {
      job.status = "expired";
      job.times.expired_at = at;
    } else {
      job.status = "completed";
      job.times.completed_at = at;
    }
    this.#store.saveJob(job);
  }

  async *#lines(ok: boolean): AsyncGenerator<string> {
    for (const row of this.#store.results(ok)) {
      if (row.result !== null) yield row.result;
      else if (row.r2_key) {
        const object = await this.env.FILES_BUCKET.get(row.r2_key);
        if (object) yield await object.text();
      }
    }
  }
}

function isFinal(job: Job): boolean {
  return job.status === "completed" || job.status === "cancelled" || job.status === "expired" || job.status === "failed";
}

function objectOf(job: Job): BatchObject {
  return {
    id: job.id,
    object: "batch",
    endpoint: job.endpoint,
    errors: null,
    input_file_id: job.inputFileId,
    completion_window: "24h",
    status: job.status,
    output_file_id: job.outputFileId && isFinal(job) ? job.outputFileId : null,
    error_file_id: job.errorFileId && isFinal(job) ? job.errorFileId : null,
    ...job.times,
    request_counts: { total: job.total, completed: job.completed, failed: job.failed },
    metadata: job.metadata,
  };
}
