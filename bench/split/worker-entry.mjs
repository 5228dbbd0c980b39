// Entry of the gateway's *Worker* process in the split runtime (bench/runtime-host.mjs, `split`): the
// gateway bundle's fetch handler, with its queue producers replaced by relays to the state process.
// Copied beside the bundle's index.js at run time. The Durable Object bindings need no wrapping:
// they name the state process's script (`scriptName`), and Miniflare's dev registry carries the calls
// across. Miniflare's queue simulator only delivers to consumers in its own process, so the producers
// here are thin objects that hand each send to the state process's QueueRelay entrypoint (one RPC per
// send, as a production send is one call to the queue service), where the real producer binding is.
import gateway from "./index.js";

const QUEUE_BINDINGS = ["BILLING_QUEUE", "AUDIT_QUEUE", "BILLING_DLQ", "AUDIT_DLQ"];
/** One wrapped env per env object workerd hands us (it is the same object for every request). */
const wrapped = new WeakMap();

function relay(state, binding) {
  return {
    send: (body, options) => state.send(binding, body, options),
    sendBatch: (messages, options) => state.sendBatch(binding, messages, options),
  };
}

function withRelays(env) {
  let out = wrapped.get(env);
  if (!out) {
    out = { ...env };
    for (const binding of QUEUE_BINDINGS) out[binding] = relay(env.BENCH_STATE, binding);
    delete out.BENCH_STATE;
    wrapped.set(env, out);
  }
  return out;
}

export default {
  fetch: (request, env, ctx) => gateway.fetch(request, withRelays(env), ctx),
};
