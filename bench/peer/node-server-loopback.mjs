// What Portkey gets for `@hono/node-server` in the benchmark (see portkey-hooks.mjs): the version named
// by PORTKEY_NODE_SERVER ("1.13.8", the default, is the npm alias `hono-node-server-1.13.8`; "installed"
// is the one Portkey's install resolves to), with `serve` bound to 127.0.0.1: Portkey passes no
// hostname, and the server would otherwise listen on every interface.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const which = process.env.PORTKEY_NODE_SERVER ?? "1.13.8";
const specifier = which === "installed" ? "@hono/node-server" : `hono-node-server-${which}`;
// Resolved from Portkey's package, so "installed" finds the copy its own dependency tree holds.
const require = createRequire(process.argv[1]);
const real = await import(pathToFileURL(require.resolve(specifier)).href);

export const { createAdaptorServer, getRequestListener, RequestError } = real;
export const version = which;

/** @param {Parameters<typeof real.serve>[0]} options @param {Parameters<typeof real.serve>[1]} listener */
export function serve(options, listener) {
  return real.serve({ ...options, hostname: "127.0.0.1" }, listener);
}
