// Reading a V8 CPU profile (DevTools `Profiler.stop` result) for bench/profile.mjs: time per sample,
// self and inclusive time per function and per source file or package, in µs per request, with
// positions mapped back to src/ through the bundle's source map.
import { readFile } from "node:fs/promises";
import { SourceMap } from "node:module";

/** Maps positions in the gateway bundle (index.js) back to src/ files through wrangler's source map. */
export async function sourceMapper(mapPath) {
  try {
    const map = new SourceMap(JSON.parse(await readFile(mapPath, "utf8")));
    return (url, line, column) => {
      if (!/(^|\/)index\.js$/.test(url)) return null;
      const entry = map.findEntry(line, column);
      if (!entry?.originalSource) return null;
      const source = entry.originalSource.replace(/^.*?(?=(src|durable-objects|queues|node_modules)\/)/, "");
      return `${source}:${entry.originalLine + 1}`;
    };
  } catch {
    return () => null;
  }
}

/**
 * Where a call frame's code lives: `src/…` / `durable-objects/…` / `queues/…` through the source map
 * for the gateway bundle, `node_modules/<package>` for dependencies, `node:…` for Node's own modules,
 * the script's file name otherwise, or the frame's own name for V8's pseudo-frames ("(program)", …).
 * @param {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} frame
 * @param {(url: string, line: number, column: number) => string | null} where source-mapped "file:line"
 */
export function locate(frame, where) {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return { file: frame.functionName.startsWith("(") ? frame.functionName : "(native)", line: null };
  const mapped = lineNumber >= 0 ? where(url, lineNumber, columnNumber) : null;
  if (mapped) {
    const at = mapped.lastIndexOf(":");
    return { file: mapped.slice(0, at), line: Number(mapped.slice(at + 1)) };
  }
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return { file: `node_modules/${rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`, line: lineNumber + 1 };
  }
  if (url.startsWith("node:")) return { file: url, line: lineNumber + 1 };
  return { file: url.replace(/^.*\//, ""), line: lineNumber + 1 };
}

/**
 * The profiler's effective tick in µs. V8 samples a thread only while it is inside the profiled isolate
 * (workerd runs many isolates and its event loop on one thread), so a long gap between two samples is
 * time the isolate was not running, not time spent in the earlier sample's frame. Consecutive samples of
 * a running isolate come one tick apart; on a loaded machine the tick stretches beyond the requested
 * interval. So: the median of the gaps no longer than 3 requested intervals (the requested interval
 * when there are none). Each busy sample then stands for one tick of CPU.
 */
export function effectiveTick(profile, requestedUs) {
  const short = (profile.timeDeltas ?? []).filter((d) => d > 0 && d <= 3 * requestedUs).sort((a, b) => a - b);
  return short.length ? short[short.length >> 1] : requestedUs;
}

const IDLE = "(idle)";
/** Our own code: what the "owner" view charges each sample to. */
const OWN_CODE = /^(src|durable-objects|queues)\//;

/**
 * Self and inclusive time per function ("name  file:line") and per file, from the busy samples ((idle)
 * excluded), each one effective tick long. Pseudo-frames ((program): the runtime's own code while the
 * isolate runs, (garbage collector)) are kept: they are CPU the isolate costs outside JavaScript frames.
 * `owners` charges each sample to the nearest frame of our own code up its stack (src/, durable-objects/,
 * queues/), so what a gateway function spends in the runtime (RPC serialization, fetch, streams) and in
 * libraries (zod, hono) is counted where it was asked for; without such a frame, to the nearest frame
 * with a file, else to the pseudo-frame. It adds up to the busy time.
 * @returns {{ tickUs: number, samples: number, busyUs: number, idleUs: number, perRequest: (us: number) => number, self: [string, number][], inclusive: [string, number][], files: [string, number][], owners: [string, number][] }}
 */
export function analyse(profile, { requests, intervalUs, where = () => null }) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const tickUs = effectiveTick(profile, intervalUs);
  const labels = new Map();
  const label = (node) => {
    let l = labels.get(node.id);
    if (!l) {
      const at = locate(node.callFrame, where);
      l = { fn: `${node.callFrame.functionName || "(anonymous)"}  ${at.file}${at.line ? `:${at.line}` : ""}`, file: at.file };
      labels.set(node.id, l);
    }
    return l;
  };
  const self = new Map();
  const inclusive = new Map();
  const files = new Map();
  const owners = new Map();
  let busyUs = 0;
  let idleUs = 0;
  const add = (map, key, v) => map.set(key, (map.get(key) ?? 0) + v);
  profile.samples.forEach((id) => {
    const node = nodes.get(id);
    const us = tickUs;
    if (node.callFrame.functionName === IDLE) {
      idleUs += us;
      return;
    }
    busyUs += us;
    const own = label(node);
    add(self, own.fn, us);
    add(files, own.file, us);
    let owner;
    let fallback;
    for (let cur = id; cur !== undefined && owner === undefined; cur = parent.get(cur)) {
      const n = nodes.get(cur);
      if (!n.callFrame.url) continue;
      const l = label(n);
      if (OWN_CODE.test(l.file)) owner = l.fn;
      else fallback ??= l.fn;
    }
    add(owners, owner ?? fallback ?? own.fn, us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const n = nodes.get(cur);
      if (n.callFrame.functionName === "(root)") continue;
      const key = label(n).fn;
      if (!seen.has(key)) add(inclusive, key, us);
      seen.add(key);
    }
  });
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  return { tickUs, samples: profile.samples.length, busyUs, idleUs, perRequest: (us) => us / requests, self: sorted(self), inclusive: sorted(inclusive), files: sorted(files), owners: sorted(owners) };
}

/** Lines "  µs/req   % of busy  label" for the first `limit` entries. */
export function table(entries, { busyUs, requests, limit, perUnit = requests }) {
  return entries.slice(0, limit).map(([key, us]) => `${(us / perUnit).toFixed(1).padStart(9)} µs ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${key}`);
}
