// The work a template render may do: loop iterations, output size and interpreter work, counted as the
// render goes and shared by every message of one render. Workers' clocks stand still while code runs
// without I/O, so a render cannot be stopped by time: these counts are what keeps one caller's variables
// from stalling the isolate other tenants' requests share.

export const TEMPLATE_LIMITS = {
  /** Items walked by for loops (charged when a loop starts) and produced by range(), over the whole render. */
  max_loop_iterations: 5_000,
  /** Characters of the rendered messages together, and of any one value built while rendering. */
  max_output_chars: 1_000_000,
  /** One unit per evaluated expression plus one per character or item of every value it builds. */
  max_work_units: 4_000_000,
} as const;

export type TemplateLimit = keyof typeof TEMPLATE_LIMITS;

/** Thrown inside a render to stop it at once; the renderer turns it into a template_limit_exceeded failure. */
export class TemplateLimitExceeded extends Error {
  constructor(
    readonly limit: TemplateLimit,
    what: string,
  ) {
    super(`template rendering stopped: ${what} exceeds ${limit} (${TEMPLATE_LIMITS[limit].toLocaleString("en-US")})`);
    this.name = "TemplateLimitExceeded";
  }
}

export class RenderBudget {
  #iterations = 0;
  #work = 0;
  #output = 0;

  /** Loop items, before the loop runs: a huge range() or list is refused before any of it is walked. */
  iterations(count: number): void {
    this.#iterations += count;
    if (this.#iterations > TEMPLATE_LIMITS.max_loop_iterations) throw new TemplateLimitExceeded("max_loop_iterations", "loop iterations");
  }

  /** A sequence built only to be looped over (range()): larger than the loop limit, it could never be walked. */
  loopable(count: number): void {
    if (count > TEMPLATE_LIMITS.max_loop_iterations) throw new TemplateLimitExceeded("max_loop_iterations", `range() of ${count} items`);
  }

  work(units: number): void {
    this.#work += units;
    if (this.#work > TEMPLATE_LIMITS.max_work_units) throw new TemplateLimitExceeded("max_work_units", "template work");
  }

  /** A value about to be built (or just built) of this many characters or items. */
  value(size: number): void {
    if (size > TEMPLATE_LIMITS.max_output_chars) throw new TemplateLimitExceeded("max_output_chars", "a rendered value");
  }

  /** A finished message's text: counted toward the render's output. */
  output(chars: number): void {
    this.#output += chars;
    if (this.#output > TEMPLATE_LIMITS.max_output_chars) throw new TemplateLimitExceeded("max_output_chars", "the rendered messages");
  }
}
