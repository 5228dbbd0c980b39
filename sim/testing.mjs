// A small world for the simulator's tests: 2,000 requests per second (scale 0.02) for 12 s, with the
// whole scenario (storm, cut-off, traffic shift) squeezed into it.
export const SMALL_SCALE = 0.02;
export const SMALL = Object.freeze({
  seconds: 12,
  warmupSeconds: 4,
  batch: 1,
  storm: { upstream: 0, from: 5, to: 9 },
  cutoff: { region: "apac", from: 6, to: 9 },
  shift: { tenantRank: 2, fromRegion: "apac", toRegion: "weur", at: 9 },
});
