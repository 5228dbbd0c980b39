// The house's structure as the architecture describes it (docs/architecture.md, "Seams"): the request
// path reads top-down. Import circles and steps imported from outside the workflow file crept back in
// twice while features were added; this keeps them out.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const SOURCE_DIRS = ["src", "durable-objects", "queues"];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** The project files a module imports (relative specifiers only), as repository paths. */
function importsOf(file: string, known: Set<string>): string[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g)) {
    const base = path.join(path.dirname(file), m[1]!);
    const target = [base, `${base}.ts`, path.join(base, "index.ts")].find((c) => known.has(c));
    if (target) found.push(target);
  }
  return found;
}

const files = SOURCE_DIRS.flatMap(sourceFiles);
const known = new Set(files);
const graph = new Map(files.map((f) => [f, importsOf(f, known)]));

/** Strongly connected groups of more than one file (Tarjan). */
function circles(): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const f of files) if (!order.has(f)) visit(f);
  return out;
}

describe("structure", () => {
  it("reads the source tree (the checks below would pass on nothing)", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get("src/pipeline/workflows.ts")).toContain("src/steps/admit.ts");
  });

  it("has no import circle, apart from the type-only one between src/env.ts and the Durable Object classes", () => {
    // env.ts names each Durable Object class for its namespace binding's type; the classes take Env.
    const allowed = (group: string[]) => group.every((f) => f === "src/env.ts" || f.startsWith("durable-objects/"));
    expect(circles().filter((g) => !allowed(g))).toEqual([]);
  });

  it("no module outside src/steps/ imports a step, except the workflow file that orders them", () => {
    const offenders = files
      .filter((f) => !f.startsWith("src/steps/") && f !== "src/pipeline/workflows.ts")
      .flatMap((f) => graph.get(f)!.filter((t) => t.startsWith("src/steps/") && t !== "src/steps/types.ts").map((t) => `${f} -> ${t}`));
    expect(offenders).toEqual([]);
  });
});
