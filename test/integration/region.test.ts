// The caller's region is an input of the gateway: it rides on every request through the real Worker and
// lands in the audit record (tests run outside production, where the x-gateway-region header names it).
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { REGION_HEADER } from "../../src/region";
import { mockPresets, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const ledger = createDb(env);
afterAll(() => ledger.dispose());

/** Polls until `read` yields a value (the audit row is written by the queue consumer, later). */

const auditMeta = async (requestId: string) =>
  (await waitFor("the audit row", () => ledger.db.selectFrom("audit_log").select("meta").where("request_id", "=", requestId).executeTakeFirst())).meta as Record<string, unknown>;

let tenant: SeededKey;
let service: { token: string };

beforeAll(async () => {
  await mockScenario("region", {});
  await seedPresets(mockPresets("region"));
  tenant = await seedTenant();
  service = await seedService();
});

function chat(token: string, channel: "external" | "internal", headers: Record<string, string>) {
  return SELF.fetch(`https://gw.test/${channel}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "where am I" }] }),
  });
}

describe("the caller's region", { timeout: 30_000 }, () => {
  it("named by the header (outside production), it is recorded in the audit record on both channels", async () => {
    const external = await chat(tenant.apiKey, "external", { [REGION_HEADER]: "oc" });
    const internal = await chat(service.token, "internal", { [REGION_HEADER]: "EEUR" });
    expect(external.status).toBe(200);
    expect(internal.status).toBe(200);
    expect(await auditMeta(external.headers.get("x-gateway-request-id")!)).toMatchObject({ region: "oc" });
    expect(await auditMeta(internal.headers.get("x-gateway-request-id")!)).toMatchObject({ region: "eeur" });
  });

  it("unknown without request.cf or a valid header: recorded as null, and the request is served", async () => {
    const res = await chat(tenant.apiKey, "external", { [REGION_HEADER]: "atlantis" });
    expect(res.status).toBe(200);
    expect(await auditMeta(res.headers.get("x-gateway-request-id")!)).toMatchObject({ region: null });
  });
});
