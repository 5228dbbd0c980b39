// The caller's region from request.cf, and the development header that may stand in for it.
import { describe, expect, it } from "vitest";
import { REGIONS, REGION_HEADER, regionOf, regionOfGeo, type RequestGeo } from "./region";

function requestWith(cf: RequestGeo | undefined, headers: Record<string, string> = {}): Request {
  return new Request("https://gw.test/external/v1/chat/completions", { headers, cf: cf as RequestInit["cf"] });
}

describe("regionOfGeo", () => {
  it.each([
    [{ continent: "NA", country: "US", longitude: "-122.4" }, "wnam"],
    [{ continent: "NA", country: "US", longitude: "-77.0" }, "enam"],
    [{ continent: "NA", country: "CA" }, "enam"],
    [{ continent: "SA", country: "BR" }, "sam"],
    [{ continent: "EU", country: "FR" }, "weur"],
    [{ continent: "EU", country: "PL" }, "eeur"],
    [{ continent: "AS", country: "JP" }, "apac"],
    [{ continent: "AS", country: "AE" }, "me"],
    [{ continent: "OC", country: "AU" }, "oc"],
    [{ continent: "AF", country: "ZA" }, "afr"],
    [{ continent: "AF", country: "EG" }, "me"],
  ] as const)("%o -> %s", (geo, region) => {
    expect(regionOfGeo(geo)).toBe(region);
  });

  it("is null without a continent Cloudflare names (local requests, Antarctica, Tor)", () => {
    expect(regionOfGeo(undefined)).toBeNull();
    expect(regionOfGeo({})).toBeNull();
    expect(regionOfGeo({ continent: "AN" })).toBeNull();
    expect(regionOfGeo({ continent: "T1" })).toBeNull();
  });
});

describe("regionOf", () => {
  it("reads request.cf", () => {
    expect(regionOf(requestWith({ continent: "EU", country: "DE" }), "production")).toBe("weur");
  });

  it("honours the header outside production, in any case and with spaces, for every location hint", () => {
    for (const region of REGIONS) {
      expect(regionOf(requestWith({ continent: "EU", country: "DE" }, { [REGION_HEADER]: ` ${region.toUpperCase()} ` }), "development")).toBe(region);
    }
    expect(regionOf(requestWith(undefined, { [REGION_HEADER]: "oc" }), "test")).toBe("oc");
  });

  it("never reads the header in a deployed environment (staging too) or an unknown one: only development and tests", () => {
    for (const environment of ["staging", "preview", "Development", ""]) {
      expect(regionOf(requestWith({ continent: "EU", country: "DE" }, { [REGION_HEADER]: "oc" }), environment), environment).toBe("weur");
    }
  });

  it("never reads the header in production: a client cannot pick the region its budgets come from", () => {
    expect(regionOf(requestWith({ continent: "EU", country: "DE" }, { [REGION_HEADER]: "oc" }), "production")).toBe("weur");
    expect(regionOf(requestWith(undefined, { [REGION_HEADER]: "oc" }), "production")).toBeNull();
  });

  it("ignores a header that names no location hint", () => {
    expect(regionOf(requestWith({ continent: "SA" }, { [REGION_HEADER]: "mars" }), "development")).toBe("sam");
    expect(regionOf(requestWith(undefined, { [REGION_HEADER]: "" }), "test")).toBeNull();
  });
});
