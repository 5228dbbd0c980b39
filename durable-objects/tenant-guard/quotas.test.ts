// Quota period boundaries: UTC days and months, and local midnight in a tenant's IANA time zone.
import { describe, expect, it } from "vitest";
import { nextPeriodStart, periodStart } from "./quotas";

const at = (iso: string) => Date.parse(iso);

describe("periodStart / nextPeriodStart", () => {
  it("UTC days and months", () => {
    expect(periodStart(at("2030-01-31T23:59:59.999Z"), "daily")).toBe(at("2030-01-31T00:00:00Z"));
    expect(nextPeriodStart(at("2030-01-31T23:59:59.999Z"), "daily")).toBe(at("2030-02-01T00:00:00Z"));
    expect(periodStart(at("2030-02-28T12:00:00Z"), "monthly")).toBe(at("2030-02-01T00:00:00Z"));
    expect(nextPeriodStart(at("2030-12-31T12:00:00Z"), "monthly")).toBe(at("2031-01-01T00:00:00Z"));
    expect(periodStart(at("2032-02-29T00:00:00Z"), "daily")).toBe(at("2032-02-29T00:00:00Z"));
    expect(periodStart(at("2030-05-05T05:05:05Z"), "never")).toBe(0);
  });

  it("local midnight in a fixed-offset zone", () => {
    expect(periodStart(at("2030-01-15T15:59:59Z"), "daily", "Asia/Shanghai")).toBe(at("2030-01-14T16:00:00Z"));
    expect(periodStart(at("2030-01-15T16:00:00Z"), "daily", "Asia/Shanghai")).toBe(at("2030-01-15T16:00:00Z"));
    expect(periodStart(at("2030-02-01T03:00:00Z"), "monthly", "Asia/Shanghai")).toBe(at("2030-01-31T16:00:00Z"));
    expect(nextPeriodStart(at("2030-01-15T10:00:00Z"), "monthly", "Asia/Kolkata")).toBe(at("2030-01-31T18:30:00Z"));
  });

  it("local midnight across daylight-saving changes", () => {
    // New York: EST (UTC-5) until 10 March 2030, EDT (UTC-4) after.
    expect(periodStart(at("2030-03-10T12:00:00Z"), "daily", "America/New_York")).toBe(at("2030-03-10T05:00:00Z"));
    expect(nextPeriodStart(at("2030-03-10T12:00:00Z"), "daily", "America/New_York")).toBe(at("2030-03-11T04:00:00Z"));
    expect(periodStart(at("2030-11-03T12:00:00Z"), "daily", "America/New_York")).toBe(at("2030-11-03T04:00:00Z"));
    expect(nextPeriodStart(at("2030-11-03T12:00:00Z"), "daily", "America/New_York")).toBe(at("2030-11-04T05:00:00Z"));
  });

  it("an unknown zone counts in UTC instead of failing", () => {
    expect(periodStart(at("2030-01-15T12:00:00Z"), "daily", "Mars/Olympus_Mons")).toBe(at("2030-01-15T00:00:00Z"));
  });
});
