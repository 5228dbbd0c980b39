// Validation failures become the gateway's one error body, with the offending field as `param`.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validationFailure } from "./router";

const Body = z.strictObject({ name: z.string(), tags: z.array(z.string().min(2)).optional(), limits: z.strictObject({ rpm: z.number().int() }).optional() });

function failureFor(value: unknown, target = "json") {
  const parsed = Body.safeParse(value);
  if (parsed.success) throw new Error("expected a validation failure");
  return validationFailure(parsed.error, target);
}

describe("validationFailure", () => {
  it("names the field, the array index and the nested field", () => {
    expect(failureFor({}).param).toBe("name");
    expect(failureFor({ name: "x", tags: ["ok", "n"] }).param).toBe("tags.1");
    expect(failureFor({ name: "x", limits: { rpm: 1.5 } }).param).toBe("limits.rpm");
  });

  it("names an unknown field itself, not its parent", () => {
    expect(failureFor({ name: "x", nmae: "y" }).param).toBe("nmae");
    expect(failureFor({ name: "x", limits: { rpm: 1, burst: 2 } }).param).toBe("limits.burst");
  });

  it("is a 400 invalid_request whose message repeats the field; a whole-body problem is param 'body'", () => {
    const failure = failureFor({});
    expect(failure.kind).toBe("invalid_request");
    expect(failure.message).toContain("name");
    expect(failureFor("just a string").param).toBe("body");
    expect(failureFor("x", "query").param).toBe("query");
  });
});
