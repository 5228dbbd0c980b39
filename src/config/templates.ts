// Prompt templates (internal channel): stored in KV by name and version, rendered with
// simple {{variable}} replacement or Jinja (@huggingface/jinja: an interpreter, no eval).
import { Template } from "@huggingface/jinja";
import { z } from "zod";
import { err, fail, ok, type Result } from "../errors";

export const PromptTemplateSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
  version: z.number().int().positive(),
  engine: z.enum(["simple_replace", "jinja"]),
  /** Messages the template renders; they are placed before the request's own messages. */
  messages: z.array(z.object({ role: z.enum(["system", "developer", "user", "assistant"]), content: z.string().max(100_000) })).min(1),
  created_at: z.string().optional(),
});
export type PromptTemplate = z.infer<typeof PromptTemplateSchema>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function renderSimple(source: string, variables: Record<string, unknown>): Result<string> {
  let missing: string | undefined;
  const text = source.replace(PLACEHOLDER, (_, name: string) => {
    if (!(name in variables)) {
      missing ??= name;
      return "";
    }
    const value = variables[name];
    return typeof value === "string" ? value : JSON.stringify(value);
  });
  return missing ? err(fail("template_error", `template variable '${missing}' is missing`, { param: `variables.${missing}` })) : ok(text);
}

function renderJinja(source: string, variables: Record<string, unknown>): Result<string> {
  try {
    return ok(new Template(source).render(variables));
  } catch (error) {
    return err(fail("template_error", `template could not be rendered: ${error instanceof Error ? error.message : String(error)}`, { param: "template" }));
  }
}

export function renderTemplate(template: PromptTemplate, variables: Record<string, unknown>): Result<{ role: PromptTemplate["messages"][number]["role"]; content: string }[]> {
  const rendered = [];
  for (const message of template.messages) {
    const text = template.engine === "jinja" ? renderJinja(message.content, variables) : renderSimple(message.content, variables);
    if (!text.ok) return text;
    rendered.push({ role: message.role, content: text.value });
  }
  return ok(rendered);
}
