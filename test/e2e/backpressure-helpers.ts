// Helpers for the back-pressure tests against a running stack: mock scenarios, extra presets pointed at
// them, request bodies, and the slots a tenant holds (its TenantGuard's open holds, via the admin API).
import { admin, type Stack } from "./stack-client";

export async function setScenario(stack: Stack, name: string, settings: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.mockUrl}/__mock/scenarios/${name}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(settings) });
  if (!res.ok) throw new Error(`scenario ${name}: ${res.status} ${await res.text()}`);
}

/** Adds OpenAI-format chat targets served by the mock's named scenarios to the stack's presets. */
export async function addPresets(stack: Stack, targets: { id: string; model: string; scenario: string; fields?: Record<string, unknown> }[]): Promise<void> {
  const doc = await admin(stack, "GET", "/presets");
  const pricing = { input_per_million_micros: 150_000, output_per_million_micros: 600_000, per_request_micros: 0, currency: "USD" };
  const items = [
    ...doc.items.filter((i: { id: string }) => !targets.some((t) => t.id === i.id)),
    ...targets.map((t) => ({
      id: t.id,
      capability: "chat",
      model: t.model,
      provider: "openai",
      base_url: `${stack.mockUrl}/s/${t.scenario}/v1`,
      credential: "MOCK_API_KEY",
      auth: "bearer",
      pricing,
      ...t.fields,
    })),
  ];
  await admin(stack, "PUT", "/presets", { items, ...(doc.policies && { policies: doc.policies }) });
}

export function chatBody(model: string, content = "hello"): string {
  return JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content }] });
}

/** The tenant's requests in flight: the concurrency slots its TenantGuard holds. */
export async function inFlight(stack: Stack, tenantId: string): Promise<number> {
  return (await admin(stack, "GET", `/tenants/${tenantId}`)).in_flight_requests;
}

/** A service token whose traffic has the given priority class. */
export async function createService(stack: Stack, priorityClass: string): Promise<string> {
  const service = await admin(stack, "POST", "/services", { name: `e2e ${priorityClass}`, priority_class: priorityClass });
  return service.token;
}
