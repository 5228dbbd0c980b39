// Entry of the gateway's *Worker* process in the split runtime (bench/runtime-host.mjs, `split`): the
// gateway bundle's fetch handler, its Durable Object bindings and queue producers reaching the state
// process (Durable Objects, queues and consumers) over that process's workerd debug port: Cap'n Proto
// RPC from this isolate, as production calls a Durable Object on another machine, with no JavaScript
// hop in this process. Copied beside the bundle's index.js at run time.
//
// - Durable Objects: each namespace keeps its real id derivation (this process declares the same
//   classes under the state script's name, so `idFromName` gives the state process's ids) and `get()`
//   returns the remote actor `getActor(service, class, id)`.
// - Queues: Miniflare delivers only to consumers in the producer's process, so the producers here hand
//   each send to a QueueRelay Durable Object in the state process, which sends on the real producer.
// - A debug-port connection is an I/O object of the request that opened it: one is opened per request,
//   lazily, and found through AsyncLocalStorage (the env object stays the same for every request, as
//   the gateway caches per-isolate state keyed by its bindings); so is each remote object's stub.
import { AsyncLocalStorage } from "node:async_hooks";
import gateway from "./index.js";

const QUEUE_BINDINGS = ["BILLING_QUEUE", "AUDIT_QUEUE", "BILLING_DLQ", "AUDIT_DLQ"];
const requestScope = new AsyncLocalStorage();
/** One wrapped env per env object workerd hands us (it is the same object for every request). */
const wrapped = new WeakMap();

function wrap(env) {
  const { address, service, classes } = JSON.parse(env.BENCH_STATE);
  const connect = () => env.BENCH_DEBUG_PORT.connect(address);
  // Each getActor is a Cap'n Proto call of its own: one per object and request (a request calls its
  // TenantGuard two or three times), where production's `get()` makes a stub without a round trip.
  const actor = (className, id) => {
    const scope = requestScope.getStore();
    if (!scope) return connect().getActor(service, className, id);
    const key = `${className}:${id}`;
    let stub = scope.actors.get(key);
    if (!stub) scope.actors.set(key, (stub = (scope.client ??= connect()).getActor(service, className, id)));
    return stub;
  };
  const remote = (namespace, className) => ({
    idFromName: (name) => namespace.idFromName(name),
    idFromString: (id) => namespace.idFromString(id),
    newUniqueId: (options) => namespace.newUniqueId(options),
    get: (id) => actor(className, id.toString()),
    getByName: (name) => actor(className, namespace.idFromName(name).toString()),
  });
  const out = { ...env };
  for (const [binding, className] of Object.entries(classes)) out[binding] = remote(env[binding], className);
  const relays = out.BENCH_QUEUE_RELAY;
  for (const binding of QUEUE_BINDINGS) {
    const id = relays.idFromName(binding);
    out[binding] = {
      send: (body, options) => relays.get(id).send(binding, body, options),
      sendBatch: (messages, options) => relays.get(id).sendBatch(binding, messages, options),
    };
  }
  for (const name of ["BENCH_QUEUE_RELAY", "BENCH_DEBUG_PORT", "BENCH_STATE"]) delete out[name];
  return out;
}

export default {
  fetch(request, env, ctx) {
    let out = wrapped.get(env);
    if (!out) wrapped.set(env, (out = wrap(env)));
    return requestScope.run({ client: null, actors: new Map() }, () => gateway.fetch(request, out, ctx));
  },
};
