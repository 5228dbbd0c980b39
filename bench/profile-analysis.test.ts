// Reading CPU profiles for bench/profile.mjs: the effective tick, self and inclusive time per function
// and per file, idle samples left out, and where a frame's code lives.
import { describe, expect, it } from "vitest";
import { analyse, effectiveTick, locate, table } from "./profile-analysis.mjs";

const frame = (functionName: string, url = "", lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: "0" });
// (root) -> handle (bundle) -> parse (bundle); (root) -> (idle); (root) -> (program)
const PROFILE = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 4, 5] },
    { id: 2, callFrame: frame("handle", "index.js", 10), children: [3] },
    { id: 3, callFrame: frame("parse", "index.js", 20), children: [] },
    { id: 4, callFrame: frame("(idle)"), children: [] },
    { id: 5, callFrame: frame("(program)"), children: [] },
  ],
  // 4 samples in handle's own frame, 4 in parse, 2 (program), 5 idle.
  samples: [2, 2, 3, 3, 3, 3, 2, 2, 5, 5, 4, 4, 4, 4, 4],
  // Two long gaps (the isolate was not running): they must not count as time in the earlier frame.
  timeDeltas: [0, 200, 210, 190, 200, 5000, 200, 200, 200, 200, 9000, 200, 200, 200, 200],
  startTime: 0,
  endTime: 20000,
};
const where = (url: string, line: number) => (url === "index.js" ? (line === 10 ? "src/app.ts:11" : "src/parse.ts:21") : null);

describe("effectiveTick", () => {
  it("is the median of the short gaps, ignoring the gaps where the isolate did not run", () => {
    expect(effectiveTick(PROFILE, 200)).toBe(200);
    expect(effectiveTick({ timeDeltas: [0, 350, 340, 330, 20000] }, 200)).toBe(340);
    expect(effectiveTick({ timeDeltas: [] }, 200)).toBe(200);
  });
});

describe("analyse", () => {
  const a = analyse(PROFILE, { requests: 2, intervalUs: 200, where });

  it("counts each busy sample as one tick and leaves idle samples out", () => {
    expect(a.busyUs).toBe(10 * 200);
    expect(a.idleUs).toBe(5 * 200);
    expect(a.perRequest(a.busyUs)).toBe(1000);
  });

  it("gives self and inclusive time per function, mapped to source files", () => {
    expect(a.self).toEqual([
      ["handle  src/app.ts:11", 800],
      ["parse  src/parse.ts:21", 800],
      ["(program)  (program)", 400],
    ]);
    expect(Object.fromEntries(a.inclusive)["handle  src/app.ts:11"]).toBe(1600);
    expect(Object.fromEntries(a.files)).toEqual({ "src/app.ts": 800, "src/parse.ts": 800, "(program)": 400 });
  });

  it("charges each sample to the nearest frame of our own code, runtime calls included", () => {
    const withNative = {
      ...PROFILE,
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2] },
        { id: 2, callFrame: frame("handle", "index.js", 10), children: [3] },
        { id: 3, callFrame: frame("safeParse", "file:///w/node_modules/zod/index.js", 1), children: [4] },
        { id: 4, callFrame: frame("stringify"), children: [] },
      ],
      samples: [2, 3, 4, 4],
      timeDeltas: [0, 200, 200, 200],
    };
    const mapped = (url: string, line: number) => (url === "index.js" && line === 10 ? "src/app.ts:11" : null);
    const b = analyse(withNative, { requests: 1, intervalUs: 200, where: mapped });
    expect(b.owners).toEqual([["handle  src/app.ts:11", 800]]);
    expect(Object.fromEntries(a.owners)).toEqual({ "handle  src/app.ts:11": 800, "parse  src/parse.ts:21": 800, "(program)  (program)": 400 });
  });

  it("prints µs per unit and the share of busy time", () => {
    expect(table(a.self, { busyUs: a.busyUs, requests: 2, limit: 1 })).toEqual(["    400.0 µs  40.0%  handle  src/app.ts:11"]);
    expect(table(a.self, { busyUs: a.busyUs, requests: 2, perUnit: 100, limit: 1 })[0]).toContain("8.0 µs");
  });
});

describe("locate", () => {
  const none = () => null;
  it("names a dependency by its package, Node's own modules by their id, pseudo-frames by name", () => {
    expect(locate(frame("f", "file:///w/node_modules/@hono/node-server/dist/index.mjs", 4), none)).toEqual({ file: "node_modules/@hono/node-server", line: 5 });
    expect(locate(frame("g", "file:///w/node_modules/hono/dist/hono-base.js", 0), none).file).toBe("node_modules/hono");
    expect(locate(frame("h", "node:internal/streams/readable", 9), none)).toEqual({ file: "node:internal/streams/readable", line: 10 });
    expect(locate(frame("(garbage collector)"), none).file).toBe("(garbage collector)");
    expect(locate(frame("fetch"), none).file).toBe("(native)");
  });
});
