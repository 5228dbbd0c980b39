// Jinja rendering with bounded work: @huggingface/jinja's interpreter (parsed by the library, run by its own
// evaluator) with every evaluation counted against a RenderBudget (template-budget.ts). The library has no
// limits of its own, and one call such as range(n), `|join`, `|indent(w)` or `.replace()` can build a value
// far larger than its inputs, so those are checked before they run, from the sizes of their arguments.
import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { RenderBudget, TEMPLATE_LIMITS } from "./template-budget";

type Node = NonNullable<Parameters<Interpreter["evaluate"]>[0]>;
type Value = ReturnType<Interpreter["evaluate"]>;

/** The AST fields read here (the library's node classes are not exported). */
interface AstNode {
  type: string;
  value?: unknown;
  iterable?: AstNode;
  lhs?: AstNode;
  callee?: AstNode;
  args?: AstNode[];
  object?: AstNode;
  property?: AstNode;
  computed?: boolean;
  key?: AstNode;
  left?: AstNode;
  right?: AstNode;
  operand?: AstNode;
}

/** Evaluating one expression costs about as much as building this many characters. */
const UNITS_PER_EVALUATION = 100;
/** Results that are references to values already built (a variable, an attribute): nothing new to count. */
const REFERENCE_NODES = new Set(["Identifier", "MemberExpression"]);
/** Filters that look at their operand without walking it. */
const CONSTANT_TIME_FILTERS = new Set(["length", "count", "first", "last", "default", "d", "safe"]);

/** Characters (strings) or items and their contents (lists, mappings): what printing or walking a value costs. */
function sizeOf(value: Value, memo: WeakMap<object, number>): number {
  const v = value as { type: string; value: unknown };
  switch (v.type) {
    case "StringValue":
      return (v.value as string).length;
    case "ArrayValue":
    case "TupleValue":
    case "ObjectValue":
    case "KeywordArgumentsValue":
    case "NamespaceValue": {
      // Namespaces change in place ({% set ns.x = ... %}), so only immutable values are remembered.
      const remembered = v.type === "NamespaceValue" ? undefined : memo.get(value);
      if (remembered !== undefined) return remembered;
      let total = 2;
      const entries = Array.isArray(v.value) ? (v.value as Value[]).map((item) => ["", item] as const) : (v.value as Map<string, Value>);
      for (const [key, item] of entries) {
        total += key.length + 2 + sizeOf(item, memo);
        // Past the limit the exact figure no longer matters; stopping keeps a shared-reference tower cheap to measure.
        if (total > TEMPLATE_LIMITS.max_output_chars) return total;
      }
      if (v.type !== "NamespaceValue") memo.set(value, total);
      return total;
    }
    default:
      return 8;
  }
}

/** Items a for loop will walk. */
function itemCount(value: Value): number {
  const v = value as { value: unknown };
  if (Array.isArray(v.value)) return v.value.length;
  if (v.value instanceof Map) return v.value.size;
  return 0;
}

const text = (value: Value): string | undefined => ((value as { type: string }).type === "StringValue" ? ((value as { value: string }).value) : undefined);
const integer = (value: Value): number => {
  const n = (value as { value: unknown }).value;
  return typeof n === "number" && Number.isFinite(n) ? Math.max(0, n) : 0;
};

function occurrences(haystack: string, needle: string): number {
  if (needle === "") return haystack.length + 1;
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** Upper bound of tojson's output: content plus indentation on every line. */
function jsonSize(value: Value, indent: number, depth: number, memo: WeakMap<object, number>): number {
  const v = value as { value: unknown };
  if (!Array.isArray(v.value) && !(v.value instanceof Map)) return sizeOf(value, memo) + 2;
  let total = 2 + indent * depth;
  const items = Array.isArray(v.value) ? (v.value as Value[]) : [...(v.value as Map<string, Value>).values()];
  for (const item of items) {
    total += indent * (depth + 1) + 4 + jsonSize(item, indent, depth + 1, memo);
    if (total > TEMPLATE_LIMITS.max_output_chars) return total;
  }
  return total + (v.value instanceof Map ? sizeOf(value, memo) : 0);
}

/** The library's filter dispatcher (not in its type declarations): wrapped so filter arguments can be checked. */
type ApplyFilter = (this: unknown, operand: Value, filterNode: Node, environment: Environment) => Value;
const libraryApplyFilter = (Interpreter.prototype as unknown as { applyFilter?: ApplyFilter }).applyFilter;
if (typeof libraryApplyFilter !== "function") throw new Error("@huggingface/jinja: Interpreter.applyFilter is gone; bounded-jinja.ts needs updating");

class BoundedInterpreter extends Interpreter {
  readonly #budget: RenderBudget;
  readonly #sizes = new WeakMap<object, number>();
  /** Checks a parent registers on a child node before evaluating it, run on the child's value. */
  readonly #watchers = new Map<Node, (value: Value) => void>();

  constructor(env: Environment, budget: RenderBudget) {
    super(env);
    this.#budget = budget;
    // Private in the library's types, so it is wrapped on the instance rather than overridden.
    const wrapped: ApplyFilter = (operand, filterNode, environment) => this.#applyFilter(operand, filterNode, environment);
    (this as unknown as { applyFilter: ApplyFilter }).applyFilter = wrapped;
  }

  override evaluate(statement: Node | undefined, environment: Environment): Value {
    if (statement === undefined) return super.evaluate(statement, environment);
    this.#budget.work(UNITS_PER_EVALUATION);
    const undo = this.#watchChildren(statement as unknown as AstNode);
    try {
      const value = super.evaluate(statement, environment);
      const type = (value as { type: string }).type;
      if (!REFERENCE_NODES.has((statement as unknown as AstNode).type) || type === "NamespaceValue") this.#built(value);
      this.#watchers.get(statement)?.(value);
      return value;
    } finally {
      undo();
    }
  }

  /** Called by the library for `x | f` and `{% filter f %}`: the operand is known, the arguments are not yet evaluated. */
  #applyFilter(operand: Value, filterNode: Node, environment: Environment): Value {
    const undo = this.#watchFilter(operand, filterNode as unknown as AstNode);
    try {
      return libraryApplyFilter!.call(this, operand, filterNode, environment);
    } finally {
      undo();
    }
  }

  #size(value: Value): number {
    return sizeOf(value, this.#sizes);
  }

  #built(value: Value): void {
    const size = this.#size(value);
    this.#budget.value(size);
    this.#budget.work(size);
  }

  #watch(watches: [AstNode | undefined, (value: Value) => void][]): () => void {
    const previous: [Node, ((value: Value) => void) | undefined][] = [];
    for (const [node, check] of watches) {
      if (!node) continue;
      const key = node as unknown as Node;
      previous.push([key, this.#watchers.get(key)]);
      this.#watchers.set(key, check);
    }
    return () => {
      for (const [key, check] of previous.reverse()) {
        if (check) this.#watchers.set(key, check);
        else this.#watchers.delete(key);
      }
    };
  }

  #watchChildren(node: AstNode): () => void {
    const charge = (value: Value) => this.#budget.work(this.#size(value));
    switch (node.type) {
      case "For": {
        const iterable = node.iterable?.type === "SelectExpression" ? node.iterable.lhs : node.iterable;
        // Starting a loop costs about as much as one of its iterations (a scope and its loop variables).
        return this.#watch([[iterable, (value) => this.#budget.iterations(1 + itemCount(value))]]);
      }
      // Comparing, concatenating or searching costs the size of both sides.
      case "BinaryExpression":
        return this.#watch([[node.left, charge], [node.right, charge]]);
      // A slice copies its source.
      case "MemberExpression":
        return node.property?.type === "SliceExpression" ? this.#watch([[node.object, charge]]) : () => {};
      case "CallExpression": {
        const method = node.callee?.type === "MemberExpression" && !node.callee.computed ? node.callee : undefined;
        if (!method) return () => {};
        // s.replace(old, new): the arguments are evaluated before the string, so the size is known last.
        if (method.property?.value === "replace") {
          const seen: { old?: string; new?: string } = {};
          const [oldArg, newArg] = node.args ?? [];
          return this.#watch([
            [oldArg, (v) => (seen.old = text(v))],
            [newArg, (v) => (seen.new = text(v))],
            [method.object, (v) => this.#checkReplace(text(v), seen.old, seen.new)],
          ]);
        }
        return this.#watch([[method.object, charge]]);
      }
      default:
        return () => {};
    }
  }

  #checkReplace(subject: string | undefined, old: string | undefined, replacement: string | undefined): void {
    if (subject === undefined || old === undefined || replacement === undefined) return;
    this.#budget.work(subject.length);
    this.#budget.value(subject.length + occurrences(subject, old) * Math.max(0, replacement.length - old.length));
  }

  #watchFilter(operand: Value, filter: AstNode): () => void {
    const name = filter.type === "Identifier" ? filter.value : filter.callee?.value;
    const args = filter.type === "CallExpression" ? (filter.args ?? []) : [];
    const positional = args.filter((a) => a.type !== "KeywordArgumentExpression");
    const keyword = (key: string) => args.find((a) => a.type === "KeywordArgumentExpression" && a.key?.value === key)?.value as AstNode | undefined;
    if (typeof name !== "string" || CONSTANT_TIME_FILTERS.has(name)) return () => {};
    const size = this.#size(operand);
    this.#budget.work(size);
    const subject = text(operand);
    switch (name) {
      case "join": {
        const separator = positional[0] ?? keyword("separator");
        const items = subject !== undefined ? subject.length : itemCount(operand);
        return this.#watch([[separator, (v) => this.#budget.value(size + Math.max(0, items - 1) * (text(v)?.length ?? 0))]]);
      }
      case "indent": {
        if (subject === undefined) return () => {};
        const lines = occurrences(subject, "\n") + 1;
        const width = positional[0] ?? keyword("width");
        if (!width) this.#budget.value(subject.length + lines * 4);
        return this.#watch([[width, (v) => this.#budget.value(subject.length + lines * integer(v))]]);
      }
      case "tojson": {
        const indent = keyword("indent");
        if (!indent) this.#budget.value(jsonSize(operand, 0, 0, this.#sizes));
        return this.#watch([[indent, (v) => this.#budget.value(jsonSize(operand, integer(v), 0, this.#sizes))]]);
      }
      case "replace": {
        const seen: { old?: string } = {};
        return this.#watch([
          [positional[0], (v) => (seen.old = text(v))],
          [positional[1], (v) => this.#checkReplace(subject, seen.old, text(v))],
        ]);
      }
      default:
        return () => {};
    }
  }
}

/** range() as the library defines it (Python's), sized before anything is allocated. */
function boundedRange(budget: RenderBudget) {
  return (...args: unknown[]): number[] => {
    const numbers = args.filter((a) => typeof a === "number");
    if (numbers.length !== args.length || numbers.length < 1 || numbers.length > 3 || !numbers.every(Number.isInteger)) {
      throw new Error("range() takes one to three integers");
    }
    const [start, stop] = numbers.length === 1 ? [0, numbers[0]!] : [numbers[0]!, numbers[1]!];
    const step = numbers[2] ?? 1;
    if (step === 0) throw new Error("range() step must not be zero");
    const count = Math.max(0, Math.ceil((stop - start) / step));
    budget.loopable(count);
    budget.work(count);
    return Array.from({ length: count }, (_, i) => start + i * step);
  }
}

/** The library's strftime_now(format): %Y %m %d %b %B %H %M %% of the current time. */
function strftimeNow(format: unknown): string {
  const now = new Date();
  const pad2 = (n: number) => String(n).padStart(2, "0");
  const month = (style: "long" | "short") => new Intl.DateTimeFormat(undefined, { month: style }).format(now);
  const fields: Record<string, () => string> = {
    "%Y": () => String(now.getFullYear()),
    "%m": () => pad2(now.getMonth() + 1),
    "%d": () => pad2(now.getDate()),
    "%b": () => month("short"),
    "%B": () => month("long"),
    "%H": () => pad2(now.getHours()),
    "%M": () => pad2(now.getMinutes()),
    "%%": () => "%",
  };
  return String(format).replace(/%[YmdbBHM%]/g, (token) => fields[token]!());
}

/** The library's own globals (setupGlobals is not exported), with range() bounded. */
function environmentFor(variables: Record<string, unknown>, budget: RenderBudget): Environment {
  const env = new Environment();
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range: boundedRange(budget),
    strftime_now: strftimeNow,
  };
  for (const [name, value] of Object.entries(globals)) env.set(name, value);
  // A variable named like a global is refused by the library ("Variable already declared").
  for (const [name, value] of Object.entries(variables)) env.set(name, value);
  return env;
}

/** Renders one Jinja source; throws TemplateLimitExceeded past a limit and Error for a template error. */
export function renderBoundedJinja(source: string, variables: Record<string, unknown>, budget: RenderBudget): string {
  const program = new Template(source).parsed;
  const rendered = new BoundedInterpreter(environmentFor(variables, budget), budget).run(program);
  return (rendered as { value: string }).value;
}
