// Keeps docs/api/errors.md in step with the error model: every code the gateway can answer with is documented.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { renderErrorsDoc } from "./gen-errors-doc.mjs";

describe("docs/api/errors.md", () => {
  const source = readFileSync("src/errors.ts", "utf8");

  it("is what scripts/gen-errors-doc.mjs generates from src/errors.ts (run it after adding a kind)", () => {
    expect(readFileSync("docs/api/errors.md", "utf8")).toBe(renderErrorsDoc(source));
  });

  it("lists every error kind with its status", () => {
    const doc = readFileSync("docs/api/errors.md", "utf8");
    const kinds = [...source.matchAll(/^\s+(\w+): [cgu]\((\d+), "\w+"\),$/gm)];
    expect(kinds.length).toBeGreaterThan(30);
    for (const [, kind, status] of kinds) expect(doc, kind).toContain(`| \`${kind}\` | ${status} |`);
  });
});
