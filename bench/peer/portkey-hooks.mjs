// Module resolve hook for the Portkey arm (registered by portkey-loader.mjs): every import of
// `@hono/node-server` from Portkey's build resolves to node-server-loopback.mjs, which serves through
// the @hono/node-server version named in PORTKEY_NODE_SERVER, bound to 127.0.0.1 only.
// Why: Portkey 1.15.2 resolves `@hono/node-server` to a release whose immutable response headers
// break its stream path (HTTP 500 on every streamed request); 1.13.8 (installed under the npm alias
// `hono-node-server-1.13.8`) works. Portkey's own install is left untouched.
const SHIM = new URL("./node-server-loopback.mjs", import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === "@hono/node-server" && !context.parentURL?.endsWith("/node-server-loopback.mjs")) {
    return { url: SHIM, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
