// The one way to reach a batch's Durable Object: named by its owner and id, so another owner's batch id
// names an object that holds nothing (a 404), never someone else's batch.
import type { Env } from "../env";
import { objectNamed } from "../objects";

export function batchFor(env: Env, owner: string, batchId: string) {
  return objectNamed(env.BATCH_JOB, `${owner}/${batchId}`);
}

export type BatchStub = ReturnType<typeof batchFor>;
