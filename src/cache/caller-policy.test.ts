// A key's cache setting over its tenant's, field by field.
import { describe, expect, it } from "vitest";
import { callerCache } from "./caller-policy";

describe("callerCache", () => {
  it("takes each field from the key, else the tenant", () => {
    expect(callerCache(undefined, undefined)).toBeUndefined();
    expect(callerCache(undefined, { enabled: true, ttl_s: 60 })).toEqual({ enabled: true, ttl_s: 60 });
    expect(callerCache({ enabled: false }, undefined)).toEqual({ enabled: false });
    expect(callerCache({ enabled: true }, { enabled: false, ttl_s: 60, scope: "shared" })).toEqual({ enabled: true, ttl_s: 60, scope: "shared" });
    expect(callerCache({ enabled: true, ttl_s: 30, scope: "tenant" }, { enabled: true, ttl_s: 60, scope: "shared" })).toEqual({ enabled: true, ttl_s: 30, scope: "tenant" });
    expect(callerCache({ enabled: false }, { enabled: true })).toEqual({ enabled: false });
  });
});
