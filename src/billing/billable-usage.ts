// The usage a request is billed for: what the upstream reported, plus what the forwarded extras are known
// to cost when the report does not say (an OpenAI chat completion with web_search_options runs a search
// but reports no count; an answer that names no tier is taken as served at the priority it asked for).
import type { PresetItem } from "../config/schemas";
import { forwardedExtras } from "../providers/request-fields";
import type { Usage } from "./usage-meter";

export function billableUsage(usage: Usage, body: object | undefined, target: PresetItem): Usage {
  if (!body) return usage;
  const sent = forwardedExtras(body, target);
  if (sent.size === 0) return usage;
  const details = { ...usage.details };
  if (sent.has("web_search_options") && !((details.webSearchCalls ?? 0) > 0)) details.webSearchCalls = 1;
  const requested = (body as { service_tier?: unknown }).service_tier;
  if (sent.has("service_tier") && details.serviceTier === undefined && requested === "priority") details.serviceTier = "priority";
  return { ...usage, details };
}
