// wrangler.toml's environments: staging and production are whole Workers of their own (wrangler does not
// inherit bindings or vars), so each must declare every binding and var the top level does, with its own
// KV namespace and queues; every queue name maps to its consumer (queues/queue-names.ts), every cron has
// its jobs (src/scheduled.ts), and the deployed bundles are minified with their source maps uploaded.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";
import { QUEUE_NAMES_BY_ENVIRONMENT } from "../queues/queue-names";
import { CRON_DAILY, CRON_EVERY_5_MIN } from "../src/scheduled";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (env?: string) => unstable_readConfig({ config: path.join(ROOT, "wrangler.toml"), env });
const top = read();
const deployed = { staging: read("staging"), production: read("production") };
const all = { "top level": top, ...deployed };

/** Each producer binding and the logical queue it sends to. */
const PRODUCERS = { BILLING_QUEUE: "gateway-billing", AUDIT_QUEUE: "gateway-audit", BILLING_DLQ: "gateway-billing-dlq", AUDIT_DLQ: "gateway-audit-dlq", BATCH_QUEUE: "gateway-batch", BATCH_DLQ: "gateway-batch-dlq" };
/** The schedules the cron handler has jobs for (every environment runs them all). */
const SCHEDULES = [CRON_EVERY_5_MIN, CRON_DAILY];

type Config = ReturnType<typeof read>;
const shape = (c: Config) => ({
  vars: Object.keys(c.vars).sort(),
  kv: c.kv_namespaces.map((k) => k.binding).sort(),
  durableObjects: c.durable_objects.bindings.map((b) => `${b.name}:${b.class_name}`).sort(),
  producers: (c.queues.producers ?? []).map((p) => p.binding).sort(),
  consumers: (c.queues.consumers ?? []).length,
});

describe("wrangler.toml environments", () => {
  it("declare the same bindings and vars as the top level", () => {
    for (const [name, config] of Object.entries(deployed)) expect(shape(config), name).toEqual(shape(top));
  });

  it("name their ENVIRONMENT, and production keeps the Worker's name (its Durable Objects' storage)", () => {
    expect(top.vars.ENVIRONMENT).toBe("development");
    expect(deployed.staging.vars.ENVIRONMENT).toBe("staging");
    expect(deployed.production.vars.ENVIRONMENT).toBe("production");
    expect(deployed.production.name).toBe(top.name);
    expect(deployed.staging.name).toBe(`${top.name}-staging`);
  });

  it("give staging and production their own KV namespace and queues", () => {
    const kv = Object.values(all).map((c) => c.kv_namespaces[0]!.id);
    expect(new Set(kv).size).toBe(kv.length);
    const queues = (c: Config) => [...(c.queues.producers ?? []).map((p) => p.queue), ...(c.queues.consumers ?? []).map((q) => q.queue)];
    const staging = new Set(queues(deployed.staging));
    for (const queue of queues(deployed.production)) expect(staging.has(queue), queue).toBe(false);
  });

  it("map every consumed queue, and no other, to its consumer; producers and dead-letter queues to theirs", () => {
    for (const [name, config] of Object.entries(all)) {
      const names = QUEUE_NAMES_BY_ENVIRONMENT[config.vars.ENVIRONMENT as string];
      expect(names, name).toBeDefined();
      const consumers = config.queues.consumers ?? [];
      expect(consumers.map((c) => c.queue).sort(), name).toEqual(Object.keys(names!).sort());
      for (const c of consumers) {
        if (c.dead_letter_queue) expect(names![c.dead_letter_queue], `${name} ${c.queue}`).toBe(`${names![c.queue]}-dlq`);
      }
      for (const p of config.queues.producers ?? []) expect(names![p.queue], `${name} ${p.binding}`).toBe(PRODUCERS[p.binding as keyof typeof PRODUCERS]);
    }
  });

  it("run every schedule the cron handler has jobs for, and only those", () => {
    for (const [name, config] of Object.entries(all)) expect([...config.triggers.crons].sort(), name).toEqual([...SCHEDULES].sort());
  });

  it("deploy minified bundles with their source maps, on a custom domain (the Cache API needs one)", () => {
    for (const [name, config] of Object.entries(deployed)) {
      expect(config.minify, name).toBe(true);
      expect(config.upload_source_maps, name).toBe(true);
      expect(config.routes?.some((r) => typeof r === "object" && "custom_domain" in r && r.custom_domain), name).toBe(true);
    }
    expect(deployed.production.workers_dev).toBe(false);
  });
});
