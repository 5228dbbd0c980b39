// `node bench/readme.mjs [bench/results/<run>.json]`: writes the README's benchmark block (between the
// `<!-- bench-table -->` markers) from a saved run, the newest one by default, so the run of record can
// be chosen after the fact instead of being whichever ran last. `npm run bench -- --readme` does the same at
// the end of a run.
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ROOT } from "./processes.mjs";
import { readmeBlock, spliceReadme } from "./report-readme.mjs";

const dir = path.join(ROOT, "bench/results");
const given = process.argv[2];
const file = given ? path.resolve(given) : path.join(dir, (await readdir(dir)).filter((f) => /^\d{4}-.*\.json$/.test(f)).sort().at(-1) ?? "");
const { meta, summary } = JSON.parse(await readFile(file, "utf8"));
const block = readmeBlock(summary, meta);
const readmePath = path.join(ROOT, "README.md");
await writeFile(readmePath, spliceReadme(await readFile(readmePath, "utf8"), block));
await writeFile(path.join(dir, "readme-table.md"), block + "\n");
process.stderr.write(`README.md: benchmark block from ${path.relative(ROOT, file)}\n`);
