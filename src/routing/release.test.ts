// Gray release resolution: the stable hash that assigns tenants to a rollout, and which presets version a
// tenant gets from the real KV binding through the config cache.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../config/kv-keys";
import { PresetItemSchema, type PresetsDocument } from "../config/schemas";
import { clearConfigCache } from "../config/store";
import { seededRandom } from "./beta";
import { presetsVersionKey } from "./keys";
import { CANDIDATE_UNAVAILABLE_FLAG, candidateApplies, inRollout, resolvePresets, rolloutBucket } from "./release";

const tenants = Array.from({ length: 10_000 }, (_, i) => `ten_${i.toString(36).padStart(6, "0")}${(i * 7919) % 97}`);

describe("rollout assignment", () => {
  it("a 10% rollout takes 10% +- 1% of 10,000 tenant ids, for each of several versions", () => {
    for (const version of [2, 3, 17, 1_000]) {
      const share = tenants.filter((t) => inRollout({ version, tenants: [], percent: 10 }, t)).length / tenants.length;
      console.log(`[figure] rollout 10% of v${version}: ${(share * 100).toFixed(2)}% of 10,000 tenant ids`);
      expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.01);
    }
    // Ids shaped like the gateway's (`ten_` + 20 base62), from a seeded generator so the figure is reproducible.
    const random = seededRandom(2024);
    const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const minted = Array.from({ length: 10_000 }, () => `ten_${Array.from({ length: 20 }, () => base62[Math.floor(random() * 62)]).join("")}`);
    const share = minted.filter((t) => inRollout({ version: 2, tenants: [], percent: 10 }, t)).length / minted.length;
    console.log(`[figure] rollout 10% of v2 over 10,000 random ten_ ids: ${(share * 100).toFixed(2)}%`);
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.01);
  });

  it("is stable: the same tenant gets the same answer every time, and raising the percentage only adds tenants", () => {
    const at10 = new Set(tenants.filter((t) => inRollout({ version: 5, tenants: [], percent: 10 }, t)));
    const again = new Set(tenants.filter((t) => inRollout({ version: 5, tenants: [], percent: 10 }, t)));
    expect(again).toEqual(at10);
    const at25 = new Set(tenants.filter((t) => inRollout({ version: 5, tenants: [], percent: 25 }, t)));
    for (const t of at10) expect(at25.has(t)).toBe(true);
    expect(rolloutBucket("ten_fixed", 5)).toBe(rolloutBucket("ten_fixed", 5));
  });

  it("each version picks its own tenants (the hash is salted with the version)", () => {
    const a = tenants.filter((t) => inRollout({ version: 5, tenants: [], percent: 10 }, t));
    const b = new Set(tenants.filter((t) => inRollout({ version: 6, tenants: [], percent: 10 }, t)));
    const overlap = a.filter((t) => b.has(t)).length / a.length;
    expect(overlap).toBeLessThan(0.2);
  });

  it("listed tenants are in whatever the percentage; 0% and 100% are exact", () => {
    expect(inRollout({ version: 5, tenants: ["ten_vip"], percent: 0 }, "ten_vip")).toBe(true);
    expect(tenants.some((t) => inRollout({ version: 5, tenants: [], percent: 0 }, t))).toBe(false);
    expect(tenants.every((t) => inRollout({ version: 5, tenants: [], percent: 100 }, t))).toBe(true);
  });

  it("a candidate with a future effective time applies to nobody until then", () => {
    const at = Date.UTC(2030, 0, 1);
    const rollout = { version: 3, tenants: ["t"], percent: 100, effective_at: new Date(at).toISOString(), started_at: "" };
    expect(candidateApplies(rollout, "t", at - 1)).toBe(false);
    expect(candidateApplies(rollout, "t", at)).toBe(true);
    expect(candidateApplies(rollout, undefined, at)).toBe(false);
  });
});

describe("resolvePresets (real KV, through the config cache)", () => {
  const item = (id: string) => PresetItemSchema.parse({ id, capability: "chat", model: "m", provider: "openai", base_url: "https://upstream.example/v1" });
  const stable: PresetsDocument = {
    version: 4,
    revision: 9,
    items: [item("stable")],
    release: { previous: [3], latest_version: 5, candidate: { version: 5, tenants: ["ten_in"], percent: 0, started_at: "2030-01-01T00:00:00Z" } },
  };
  const candidate: PresetsDocument = { version: 5, items: [item("candidate")] };

  beforeEach(async () => {
    await env.CONFIG_KV.put(kvKeys.presets(), JSON.stringify(stable));
    await env.CONFIG_KV.put(presetsVersionKey(5), JSON.stringify(candidate));
    clearConfigCache();
  });

  it("a rollout tenant gets the candidate version, everyone else the stable one", async () => {
    const inside = await resolvePresets(env, "ten_in");
    const outside = await resolvePresets(env, "ten_out");
    expect(inside).toMatchObject({ ok: true, value: { version: 5, candidate: true, document: { items: [{ id: "candidate" }] } } });
    expect(outside).toMatchObject({ ok: true, value: { version: 4, candidate: false, document: { items: [{ id: "stable" }] } } });
    // No principal (nothing to hash): the stable version.
    expect(await resolvePresets(env, undefined)).toMatchObject({ ok: true, value: { version: 4 } });
  });

  it("a candidate version that cannot be read: the stable version, flagged", async () => {
    await env.CONFIG_KV.delete(presetsVersionKey(5));
    clearConfigCache();
    expect(await resolvePresets(env, "ten_in")).toMatchObject({ ok: true, value: { version: 4, flag: CANDIDATE_UNAVAILABLE_FLAG } });
  });

  it("no presets at all: null, not a failure", async () => {
    await env.CONFIG_KV.delete(kvKeys.presets());
    clearConfigCache();
    expect(await resolvePresets(env, "ten_in")).toEqual({ ok: true, value: null });
  });
});
