// Per-IP rate limits cannot be dodged by respelling an address, by the IPv4-mapped form, or by hopping
// across one IPv6 /64 (or the tenant's configured prefix), through the real Worker and TenantGuard.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { TenantRecord } from "../../src/config/schemas";
import { mockPresets, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { admin } from "./admin-helpers";

const SCENARIO = "sec-ip-rate-limits";
const CHAT = "https://gw.test/external/v1/chat/completions";

async function chatFrom(k: SeededKey, ip: string): Promise<string> {
  const res = await SELF.fetch(CHAT, {
    method: "POST",
    headers: { authorization: `Bearer ${k.apiKey}`, "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 8 }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return res.ok ? String(res.status) : `${res.status} ${body.error?.code}`;
}

/** One request per minute per caller: the first address is admitted, every other spelling of the same caller is a 429. */
function oneRequestPerMinute(tenant: Partial<TenantRecord> = {}) {
  return seedTenant({ tenant: { ip_rate_limits: { requests_per_minute: 1 }, ...tenant } });
}

async function outcomes(k: SeededKey, ips: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ip of ips) out.push(await chatFrom(k, ip));
  return out;
}

const refusedAfterFirst = (n: number) => ["200", ...Array<string>(n - 1).fill("429 rate_limit_exceeded")];

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

describe("per-IP limits count callers, not spellings", () => {
  it("five spellings of one IPv6 address are one caller", async () => {
    const k = await oneRequestPerMinute();
    const spellings = ["2001:db8:0:0:1:0:0:1", "2001:DB8::1:0:0:1", "2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1", "2001:db8:0::1:0:0:1"];
    expect(await outcomes(k, spellings)).toEqual(refusedAfterFirst(5));
  });

  it("::ffff:203.0.113.9, its hex form and 203.0.113.9 are one caller", async () => {
    const k = await oneRequestPerMinute();
    expect(await outcomes(k, ["203.0.113.9", "::ffff:203.0.113.9", "::FFFF:cb00:7109", "0:0:0:0:0:ffff:203.0.113.9"])).toEqual(refusedAfterFirst(4));
    // Another IPv4 address is another caller.
    expect(await chatFrom(k, "203.0.113.10")).toBe("200");
  });

  it("five addresses of one IPv6 /64 are one caller by default; another /64 is another caller", async () => {
    const k = await oneRequestPerMinute();
    const sameNetwork = ["2001:db8:aa:1::1", "2001:db8:aa:1::2", "2001:db8:aa:1:ffff:ffff:ffff:ffff", "2001:db8:aa:1:1234::", "2001:db8:aa:1:dead:beef:0:1"];
    expect(await outcomes(k, sameNetwork)).toEqual(refusedAfterFirst(5));
    expect(await chatFrom(k, "2001:db8:aa:2::1")).toBe("200");
  });

  it("the prefix is the tenant's: /48 joins neighbouring /64s, /128 counts each address", async () => {
    const wide = await oneRequestPerMinute({ ipv6_rate_limit_prefix: 48 });
    expect(await outcomes(wide, ["2001:db8:bb:1::1", "2001:db8:bb:2::1", "2001:db8:bb:ffff::1"])).toEqual(refusedAfterFirst(3));
    expect(await chatFrom(wide, "2001:db8:bc::1")).toBe("200");

    const exact = await oneRequestPerMinute({ ipv6_rate_limit_prefix: 128 });
    expect(await outcomes(exact, ["2001:db8:cc:1::1", "2001:db8:cc:1::2"])).toEqual(["200", "200"]);
    expect(await chatFrom(exact, "2001:DB8:CC:1:0:0:0:1")).toBe("429 rate_limit_exceeded");
  });

  it("unparsable addresses share one bucket instead of each getting an allowance", async () => {
    const k = await oneRequestPerMinute();
    expect(await outcomes(k, ["garbage", "010.0.0.1", "10.0.0.1, 10.0.0.2"])).toEqual(refusedAfterFirst(3));
  });
});

describe("ipv6_rate_limit_prefix in the admin API", () => {
  it("defaults to 64, takes 32..128, and refuses anything else with 400 naming the field", async () => {
    const created = await admin("POST", "/tenants", { name: "v6 prefix" });
    expect(created.status).toBe(201);
    expect(created.body.ipv6_rate_limit_prefix).toBe(64);
    for (const prefix of [32, 56, 128]) {
      const res = await admin("PATCH", `/tenants/${created.body.id}`, { ipv6_rate_limit_prefix: prefix });
      expect(res.status, String(prefix)).toBe(200);
      expect(res.body.ipv6_rate_limit_prefix).toBe(prefix);
    }
    for (const prefix of [31, 129, 0, 64.5, "64"]) {
      const res = await admin("POST", "/tenants", { name: "bad prefix", ipv6_rate_limit_prefix: prefix });
      expect(res.status, String(prefix)).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", param: "ipv6_rate_limit_prefix" });
    }
    const cleared = await admin("PATCH", `/tenants/${created.body.id}`, { ipv6_rate_limit_prefix: null });
    expect(cleared.body.ipv6_rate_limit_prefix).toBe(64);
  });
});
