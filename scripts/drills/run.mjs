// Runs one chaos drill against a freshly started local stack and prints its record as JSON.
// Usage: node scripts/drills/run.mjs <upstream-errors|upstream-latency|database-down|database-long-outage|redis-down>
const DRILLS = ["upstream-errors", "upstream-latency", "database-down", "database-long-outage", "redis-down"];
const name = process.argv[2];
if (!DRILLS.includes(name)) {
  console.error(`usage: node scripts/drills/run.mjs <${DRILLS.join("|")}>`);
  process.exit(2);
}

if (name === "redis-down") {
  // The local stack sets no UPSTASH_REDIS_REST_URL: nothing reads Redis, so there is nothing to stop.
  const configured = Boolean(process.env.UPSTASH_REDIS_REST_URL);
  console.log(JSON.stringify({ drill: name, date: new Date().toISOString(), result: configured ? "not run: the dev stack does not pass Redis settings to the gateway" : "not applicable: no Redis configured locally" }, null, 2));
  process.exit(0);
}

const { startStack } = await import("./lib.mjs");
const module = await import(`./${name}.mjs`);
const db = module.prepare ? await module.prepare(name) : undefined;
// A drill may set gateway vars (e.g. shortened queue retry delays) for its stack.
const stack = await startStack(name, module.vars);
const started = new Date();
try {
  const record = await module.drill(stack, db);
  console.log(JSON.stringify({ drill: name, date: started.toISOString(), durationS: Math.round((Date.now() - started.getTime()) / 1000), ...record }, null, 2));
} finally {
  await stack.stop();
  await db?.handle.close().catch(() => {});
}
