// Prompt templates (internal channel): stored in KV by name and version, rendered with simple
// {{variable}} replacement or Jinja (@huggingface/jinja: an interpreter, no eval), within the
// work limits of template-budget.ts, shared by all the messages of one render.
import { z } from "zod";
import { err, fail, ok, type Result } from "../errors";
import { renderBoundedJinja } from "./bounded-jinja";
import { RenderBudget, TemplateLimitExceeded } from "./template-budget";

export const PromptTemplateSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
  version: z.number().int().positive(),
  engine: z.enum(["simple_replace", "jinja"]),
  /** Messages the template renders; they are placed before the request's own messages. */
  messages: z.array(z.object({ role: z.enum(["system", "developer", "user", "assistant"]), content: z.string().max(100_000) })).min(1),
  created_at: z.string().optional(),
});
export type PromptTemplate = z.infer<typeof PromptTemplateSchema>;
export type RenderedMessage = { role: PromptTemplate["messages"][number]["role"]; content: string };

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Variables are the caller's own JSON properties only: `{{constructor}}` or `{{toString}}` must be missing
 * variables, not the Object prototype's functions. Each placeholder counts toward the output limit as it is filled.
 */
function renderSimple(source: string, variables: Record<string, unknown>, budget: RenderBudget): Result<string> {
  const parts: string[] = [];
  let size = 0;
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (!Object.hasOwn(variables, name)) return err(fail("template_error", `template variable '${name}' is missing`, { param: `variables.${name}` }));
    const value = variables[name];
    const filled = typeof value === "string" ? value : JSON.stringify(value);
    const literal = source.slice(last, match.index);
    size += literal.length + filled.length;
    budget.value(size);
    parts.push(literal, filled);
    last = match.index + match[0].length;
  }
  parts.push(source.slice(last));
  return ok(parts.join(""));
}

function renderJinja(source: string, variables: Record<string, unknown>, budget: RenderBudget): Result<string> {
  try {
    return ok(renderBoundedJinja(source, variables, budget));
  } catch (error) {
    if (error instanceof TemplateLimitExceeded) throw error;
    return err(fail("template_error", `template could not be rendered: ${error instanceof Error ? error.message : String(error)}`, { param: "template" }));
  }
}

export function renderTemplate(template: PromptTemplate, variables: Record<string, unknown>): Result<RenderedMessage[]> {
  const budget = new RenderBudget();
  const rendered: RenderedMessage[] = [];
  try {
    for (const message of template.messages) {
      const text = template.engine === "jinja" ? renderJinja(message.content, variables, budget) : renderSimple(message.content, variables, budget);
      if (!text.ok) return text;
      budget.output(text.value.length);
      rendered.push({ role: message.role, content: text.value });
    }
  } catch (error) {
    if (!(error instanceof TemplateLimitExceeded)) throw error;
    return err(fail("template_limit_exceeded", `${error.message}; render with smaller variables or simplify the template.`, { param: "template" }));
  }
  return ok(rendered);
}
