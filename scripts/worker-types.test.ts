// The committed worker-configuration.d.ts (the Env types src/env.ts derives from) is what `wrangler types`
// generates from wrangler.toml now: a binding or var added to wrangler.toml without `npm run types` fails here.
import { describe, expect, it } from "vitest";
import { typesDrift } from "./worker-types.mjs";

describe("worker-configuration.d.ts", () => {
  it("matches wrangler.toml", () => {
    expect(typesDrift()).toBeNull();
  });
});
