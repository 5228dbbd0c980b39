// A Miniflare external plugin (loaded through a Worker's `unsafeBindings`) that gives the Worker a
// `workerdDebugPort` binding: a client for another workerd process's debug port, over which the split
// runtime's Worker process calls the state process's Durable Objects directly (Cap'n Proto RPC, no
// JavaScript hop in between; see worker-entry.mjs). Miniflare's dev registry uses the same binding
// inside its proxy Durable Objects, whose per-call JavaScript would otherwise be charged to the
// Worker process's CPU.
import { kVoid } from "miniflare";

/** @param {{ name: string }[] | undefined} bindings the Worker's unsafe bindings naming this plugin */
const bindingsOf = (bindings) => (bindings ?? []).map((b) => ({ name: b.name, workerdDebugPort: kVoid }));

export const plugins = {
  "bench-debug-port": {
    getBindings: (bindings) => bindingsOf(bindings),
    getNodeBindings: () => ({}),
    getServices: () => [],
  },
};
