import { describe, expect, it } from "vitest";
import { env } from "cloudflare:test";
import { compileWorkflow } from "./engine";
describe("smoke", () => {
  it("compiles", () => {
    expect(compileWorkflow("x", []).layers).toEqual([]);
    expect(typeof env.MOCK_PROVIDER_URL).toBe("string");
  });
});
