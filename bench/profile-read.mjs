// `node bench/profile-read.mjs <profile.cpuprofile> --requests N [--chunks N] [--interval µs] [--top N]`:
// the tables of bench/profile.mjs for a profile it saved (with the bundle's source map beside it as
// <profile>.cpuprofile.map), e.g. to read one again with more rows. --requests is the number of requests
// (or streams) the profile covered, as profile.mjs printed it; --chunks turns µs per stream into per chunk.
import { readFile } from "node:fs/promises";
import { analyse, sourceMapper, table } from "./profile-analysis.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const file = argv.find((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
const requests = option("--requests", NaN);
if (!file || !(requests > 0)) throw new Error("usage: node bench/profile-read.mjs <profile.cpuprofile> --requests N [--chunks N] [--interval µs] [--top N]");
const chunks = option("--chunks", 0);
const top = option("--top", 20);
const profile = JSON.parse(await readFile(file, "utf8"));
const a = analyse(profile, { requests, intervalUs: option("--interval", 200), where: await sourceMapper(`${file}.map`) });
const perUnit = chunks ? requests * chunks : requests;
const unit = chunks ? "chunk" : "request";
const opts = { busyUs: a.busyUs, requests, perUnit };
console.log(`running: ${(a.busyUs / perUnit).toFixed(1)} µs per ${unit} (${Math.round(a.busyUs / a.tickUs)} busy samples x the effective tick ${a.tickUs} µs)`);
console.log(`\nby function of ours, what it calls included, µs per ${unit}:\n` + table(a.owners, { ...opts, limit: top }).join("\n"));
console.log(`\nself time by function:\n` + table(a.self, { ...opts, limit: top }).join("\n"));
console.log(`\ninclusive time by function:\n` + table(a.inclusive, { ...opts, limit: top }).join("\n"));
console.log(`\nself time by file or package:\n` + table(a.files, { ...opts, limit: top }).join("\n"));
