// Step render_template (internal channel): when the request names a stored prompt template,
// renders it with the request's variables (within the template work limits) and places its
// messages before the request's own.
import type { ChatMessage } from "../api/openai-schemas";
import type { GatewayContext } from "../context";
import { kvKeys } from "../config/kv-keys";
import { PromptTemplateSchema, renderTemplate, type PromptTemplate } from "../config/templates";
import { err, fail, ok, type Result } from "../errors";
import { failed } from "../pipeline/step";
import type { GatewayStep } from "./types";

/** The stored template, or null when there is no such name or version. */
async function loadTemplate(ctx: GatewayContext, name: string, version?: number): Promise<Result<PromptTemplate | null>> {
  const key = version ? kvKeys.template(name, version) : kvKeys.templateLatest(name);
  let raw: unknown;
  try {
    raw = await ctx.env.CONFIG_KV.get(key, "json");
  } catch {
    return err(fail("config_unavailable", "template store unavailable"));
  }
  if (raw === null) return ok(null);
  const parsed = PromptTemplateSchema.safeParse(raw);
  return parsed.success ? ok(parsed.data) : err(fail("config_unavailable", `stored template '${name}' is unreadable`));
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
    const loaded = await loadTemplate(ctx, name, version);
    if (!loaded.ok) return failed(loaded.failure);
    if (loaded.value === null) return failed(fail("template_not_found", `template '${name}'${version ? ` version ${version}` : ""} does not exist`, { param: "template" }));
    const rendered = renderTemplate(loaded.value, parsed.body.variables ?? {});
    if (!rendered.ok) return failed(rendered.failure);
    const { template: _t, variables: _v, ...rest } = parsed.body;
    const messages = [...rendered.value, ...parsed.body.messages] as ChatMessage[];
    ctx.parsed = { ...parsed, body: { ...rest, messages } };
  },
};
