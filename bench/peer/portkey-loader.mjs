// `node --import ./bench/peer/portkey-loader.mjs <portkey>/build/start-server.js`: installs the
// resolve hook of portkey-hooks.mjs before Portkey's modules load.
import { register } from "node:module";

register("./portkey-hooks.mjs", import.meta.url);
