// Entry of the gateway's *state* process in the split runtime (bench/runtime-host.mjs, `split`): the
// same bundle, serving its Durable Object classes and queue consumers, plus the QueueRelay Durable
// Object the Worker process's producers send through (see worker-entry.mjs). Copied beside the
// bundle's index.js at run time. Nothing sends HTTP requests here; the Worker process serves them all.
import { DurableObject } from "cloudflare:workers";
import gateway from "./index.js";

export * from "./index.js";

/** Sends on this process's real queue producer bindings, for the Worker process. Keeps no state. */
export class QueueRelay extends DurableObject {
  send(binding, body, options) {
    return this.env[binding].send(body, options);
  }
  sendBatch(binding, messages, options) {
    return this.env[binding].sendBatch(messages, options);
  }
}

export default {
  fetch: () => new Response("the state process serves no HTTP", { status: 404 }),
  queue: gateway.queue,
  scheduled: gateway.scheduled,
};
