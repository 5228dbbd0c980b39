// Admin route for prepaid balance top-ups: the tenant's Durable Object applies each idempotency key
// once; a billing message of kind "credit" (request id "credit:<key>") lets the ledger record it.
import { createRoute, z } from "@hono/zod-openapi";
import type { BillingMessage } from "../../queues/messages";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { loadTenant } from "./records";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, idParam, json, jsonBody } from "./schemas";
import type { AdminEnv } from "./types";
import type { Context } from "hono";
import { emitEvent } from "../billing/emit";

const CreditSchema = z
  .strictObject({
    amount_micros: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ description: "Integer micro-units of the currency (1 USD = 1,000,000)." }),
    idempotency_key: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_.:-]+$/, "must be 1-200 of [A-Za-z0-9_.:-]")
      .openapi({ description: "A retry with the same key is applied once (the amount of the retry is ignored)." }),
  })
  .openapi("Credit");

const CreditResultSchema = z
  .object({
    tenant_id: z.string(),
    amount_micros: z.number().int(),
    idempotency_key: z.string(),
    /** False when this idempotency key was already applied: nothing changed. */
    applied: z.boolean(),
    balance_micros: z.number().int(),
  })
  .openapi("CreditResult");

const addCredit = createRoute({
  method: "post",
  path: "/tenants/{id}/credits",
  operationId: "topUpTenantCredits",
  tags: ["Tenants"],
  summary: "Top up a tenant's prepaid balance (idempotent per idempotency_key)",
  ...adminAccess("billing", { tenantParam: "id" }),
  request: { params: z.object({ id: idParam("id") }), body: jsonBody(CreditSchema) },
  responses: { 200: json(CreditResultSchema, "The balance after the top-up"), ...errors(400, 401, 404, 503) },
});

/** The ledger deduplicates on request_id, so this is sent on replays too: it repairs a send that failed the first time. */
function sendLedgerCredit(c: Context<AdminEnv>, tenantId: string, amountMicros: number, idempotencyKey: string): void {
  const message: BillingMessage = {
    v: 1,
    request_id: `credit:${idempotencyKey}`,
    tenant_id: tenantId,
    key_id: "admin",
    channel: "external",
    kind: "credit",
    amount_micros: amountMicros,
    currency: "USD",
    model: null,
    upstream: null,
    input_tokens: 0,
    output_tokens: 0,
    usage_estimated: false,
    price_version: null,
    created_at: new Date().toISOString(),
  };
  // Like every billing event: a failed send goes to the tenant's durable outbox, never dropped.
  c.executionCtx.waitUntil(emitEvent({ env: c.env, traceId: c.get("traceId") }, "billing", message));
}

export function creditRoutes() {
  const app = adminRouter();

  app.openapi(addCredit, async (c) => {
    const { id } = c.req.valid("param");
    const { amount_micros: amount, idempotency_key: idempotencyKey } = c.req.valid("json");
    orThrow(await loadTenant(c.env, id));
    const result = orThrow(await callGuard(c.env, id, "balance_unavailable", (g) => g.credit(amount, idempotencyKey)));
    sendLedgerCredit(c, id, amount, idempotencyKey);
    auditAdminWrite(c, {
      action: result.applied ? "credit.apply" : "credit.replay",
      resource: "credit",
      resourceId: `credit:${idempotencyKey}`,
      tenantId: id,
      status: 200,
      details: { amount_micros: amount, applied: result.applied },
    });
    return c.json({ tenant_id: id, amount_micros: amount, idempotency_key: idempotencyKey, applied: result.applied, balance_micros: result.balanceMicros }, 200);
  });

  return app;
}
