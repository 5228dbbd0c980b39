// Step render_template (internal channel): when the request names a stored prompt template,
// renders it with the request's variables and places its messages before the request's own.
import type { ChatMessage } from "../api/openai-schemas";
import type { GatewayContext } from "../context";
import { kvKeys } from "../config/kv-keys";
import { PromptTemplateSchema } from "../config/templates";
import { renderTemplate } from "../config/templates";
import { fail } from "../errors";
import type { GatewayStep } from "./types";

async function loadTemplate(ctx: GatewayContext, name: string, version?: number) {
  const key = version ? kvKeys.template(name, version) : kvKeys.templateLatest(name);
  try {
    const raw = await ctx.env.CONFIG_KV.get(key, "json");
    if (raw === null) return null;
    return PromptTemplateSchema.parse(raw);
  } catch {
    return fail("config_unavailable", "template store unavailable");
  }
}

export const renderTemplateStep: GatewayStep = {
  name: "render_template",
  onFailure: "abort",
  timeoutMs: 2_000,
  retries: 0,
  when: (ctx) => ctx.parsed?.capability === "chat" && ctx.parsed.body.template !== undefined,
  async run(ctx: GatewayContext) {
    const parsed = ctx.parsed!;
    if (parsed.capability !== "chat" || !parsed.body.template) return;
    const { name, version } = parsed.body.template;
    const template = await loadTemplate(ctx, name, version);
    if (template === null) return fail("template_not_found", `template '${name}'${version ? ` version ${version}` : ""} does not exist`, { param: "template" });
    if ("kind" in template) return template;
    const rendered = renderTemplate(template, parsed.body.variables ?? {});
    if (!rendered.ok) return rendered.failure;
    const { template: _t, variables: _v, ...rest } = parsed.body;
    const messages = [...rendered.value, ...parsed.body.messages] as ChatMessage[];
    ctx.parsed = { ...parsed, body: { ...rest, messages } };
  },
};
